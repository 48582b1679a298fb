package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/await"
)

func TestRunDev(t *testing.T) {
	fs := newFakeServer(t, newTestClock())
	dir := shortTempDir(t)
	var out await.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- RunDev(ctx, DevConfig{
			ServerURL: fs.URL(), TrustBundle: fs.ca.X509Authorities(), JoinToken: NewJoinToken(fs.newJoinToken()),
			DataDir: dir, Out: &out, Logger: testLogger(t),
			Register: func(_ context.Context, agent spiffeid.ID, selectors []string) error {
				fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/dev-user", ParentID: agent.String(), Selectors: selectors})
				return nil
			},
		})
	}()
	eventually(t, "the banner", out.Wrote, func() bool { return strings.Contains(out.String(), "SPIFFE_ENDPOINT_SOCKET=unix://") })
	fctx, fcancel := context.WithTimeout(ctx, 20*time.Second)
	defer fcancel()
	svid, err := workloadapi.FetchX509SVID(fctx, workloadapi.WithAddr("unix://"+DevSocketPath(dir)))
	if err != nil {
		t.Fatalf("FetchX509SVID: %v", err)
	}
	if svid.ID.String() != "spiffe://example.org/dev-user" {
		t.Errorf("SVID = %s, want the dev user's", svid.ID)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunDev = %v", err)
	}
}
