package dev

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/server"
)

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
	out := &await.Buffer{}
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
	if !await.Signal(20*time.Second, out.Wrote, func() bool {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			sock = m[1]
		}
		return sock != ""
	}) {
		t.Fatalf("banner never named the Workload API socket:\n%s", out)
	}
	for _, want := range []string{"admin token    kith_admin_", "KITH_DATA=" + dir} {
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
	// The banner counts the entries kith entry list shows, dev-user too.
	all, _, err := srv.Registry().List(t.Context(), registry.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("entries        %d workloads registered", len(all)); !strings.Contains(out.String(), want) {
		t.Errorf("banner lacks %q (the registry holds %d entries):\n%s", want, len(all), out)
	}
	checkDemo(t, out.String(), sock)
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

// checkDemo calls the demo's orders service through its inbound proxy as
// the dev user, as the traffic generator does: the call goes on to
// payments and ledger-db, each behind its proxy; orders reaching
// ledger-db directly is denied by the demo policies.
func checkDemo(t *testing.T, banner, sock string) {
	t.Helper()
	m := regexp.MustCompile(`orders\s+https://(\S+)`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("banner lacks the orders service:\n%s", banner)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	x509, err := workloadapi.FetchX509Context(ctx, workloadapi.WithAddr(sock))
	if err != nil {
		t.Fatal(err)
	}
	orders := spiffeid.RequireFromString("spiffe://example.org/orders")
	tr := &http.Transport{TLSClientConfig: tlsconfig.MTLSClientConfig(x509.DefaultSVID(), x509.Bundles, tlsconfig.AuthorizeID(orders))}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	get := func(path string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+m[1]+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The demo's listeners are bound before the banner: until its proxies
	// serve (once the agent has the demo identities), the call waits in
	// the listen queue.
	code, body := get("/order")
	if code != http.StatusOK || !strings.Contains(body, "payments said 200") ||
		!strings.Contains(body, "recorded") || !strings.Contains(body, "spiffe://example.org/payments") {
		t.Errorf("GET /order = %d %q, want the call chain orders → payments → ledger-db", code, body)
	}
	t.Logf("GET /order: %s", body)
	if code, body := get("/peek"); code != http.StatusForbidden {
		t.Errorf("GET /peek (orders → ledger-db) = %d %q, want 403", code, body)
	}
	if code, body := get("/admin"); code != http.StatusForbidden {
		t.Errorf("GET /admin on orders = %d %q, want 403", code, body)
	}
}
