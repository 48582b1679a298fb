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

	wire "github.com/kith-dev/kith/internal/sync"
)

// syncBuffer is a bytes.Buffer safe for concurrent use; wrote signals
// each write.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes *broadcaster
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	n, err := s.b.Write(p)
	writes := s.broadcaster()
	s.mu.Unlock()
	writes.notify()
	return n, err
}

// wrote returns a channel closed at the next write.
func (s *syncBuffer) wrote() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broadcaster().wait()
}

// broadcaster returns s.writes, made on first use. s.mu must be held.
func (s *syncBuffer) broadcaster() *broadcaster {
	if s.writes == nil {
		s.writes = newBroadcaster()
	}
	return s.writes
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
				fs.putEntry(wire.Entry{SPIFFEID: "spiffe://example.org/dev-user", ParentID: agent.String(), Selectors: selectors})
				return nil
			},
		})
	}()
	eventually(t, "the banner", out.wrote, func() bool { return strings.Contains(out.String(), "SPIFFE_ENDPOINT_SOCKET=unix://") })
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
