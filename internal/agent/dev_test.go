package agent

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/agentproto"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunDev(t *testing.T) {
	fs := newFakeServer(t, newTestClock())
	dir := shortTempDir(t)
	var out syncBuffer
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
	eventually(t, "the banner", func() bool { return strings.Contains(out.String(), "SPIFFE_ENDPOINT_SOCKET=unix://") })
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
