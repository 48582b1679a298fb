package proxy_test

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/proxy/proxytest"
)

func TestNewFeedNeedsSocket(t *testing.T) {
	if _, err := proxy.NewFeed(proxy.FeedConfig{}); err == nil {
		t.Error("NewFeed without DataPlaneSocket: no error")
	}
}

// TestFeedWithoutAgent: before the agent sent its state, an enforcer of
// the Feed refuses a caller whose certificate is sound (it knows no
// bundle: fail closed), and Run stops when asked although no agent ever
// answered.
func TestFeedWithoutAgent(t *testing.T) {
	dir, err := os.MkdirTemp("", "feed") // Unix socket paths are short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f, err := proxy.NewFeed(proxy.FeedConfig{DataPlaneSocket: filepath.Join(dir, "none.sock")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	env := proxytest.New(t)
	target := spiffeid.RequireFromPath(proxytest.Own, "/payments")
	enf, err := f.Enforcer(proxy.EnforcerConfig{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	if enf.Target() != target {
		t.Errorf("Target = %v, want %v", enf.Target(), target)
	}
	r := httptest.NewRequest("GET", "https://payments/api/x", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: env.SVID(spiffeid.RequireFromPath(proxytest.Own, "/orders")).Certificates}
	if res := enf.Check(r); res.Reason != enforce.ReasonUntrustedDomain {
		t.Errorf("before the agent's state: reason %q, want %q", res.Reason, enforce.ReasonUntrustedDomain)
	}
	select {
	case <-f.Ready():
		t.Error("Ready without an agent")
	default:
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}
