package dev

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/server"
)

// lockedBuffer is a bytes.Buffer safe for the writer goroutine and the
// test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRun starts the demo, checks what the banner promises (admin token,
// demo entries, a Workload API socket that gives the current user an
// identity), then stops it.
func TestRun(t *testing.T) {
	// Unix socket paths are short; keep the data folder near /tmp.
	dir, err := os.MkdirTemp("", "kd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithCancel(t.Context())
	out := &lockedBuffer{}
	ready := make(chan *server.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{DataDir: dir, ListenAddr: "127.0.0.1:0", Out: out,
			Ready: func(s *server.Server) { ready <- s }})
	}()
	var srv *server.Server
	select {
	case srv = <-ready:
	case err := <-done:
		t.Fatalf("Run stopped early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("kith dev did not become ready")
	}
	entries, _, err := srv.Registry().List(t.Context(), registry.Filter{})
	if err != nil || len(entries) < 3 {
		t.Fatalf("demo entries: %d, %v", len(entries), err)
	}
	var sock string
	re := regexp.MustCompile(`SPIFFE_ENDPOINT_SOCKET=(unix://\S+)`)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			sock = m[1]
			break
		}
	}
	if sock == "" {
		t.Fatalf("banner never named the Workload API socket:\n%s", out)
	}
	for _, want := range []string{"admin token    kith_admin_", "demo entries   3", "KITH_DATA=" + dir} {
		if !bytes.Contains([]byte(out.String()), []byte(want)) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	fctx, fcancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer fcancel()
	svid, err := workloadapi.FetchX509SVID(fctx, workloadapi.WithAddr(sock))
	if err != nil {
		t.Fatalf("FetchX509SVID through the dev agent: %v", err)
	}
	if got := svid.ID.String(); got != "spiffe://example.org/dev-user" {
		t.Errorf("SVID for %s, want spiffe://example.org/dev-user", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("kith dev did not stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "admin.token")); err != nil {
		t.Errorf("admin token file: %v", err)
	}
}
