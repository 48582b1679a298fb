package sidecar_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/proxy/sidecar"
)

// TestSidecarConfig: Run refuses an incomplete or contradictory Config
// before it touches any socket.
func TestSidecarConfig(t *testing.T) {
	id := spiffeid.RequireFromString("spiffe://example.org/payments")
	in := &sidecar.Inbound{Addr: "127.0.0.1:0", Upstream: "http://127.0.0.1:1", Target: id}
	out := []sidecar.Outbound{{Addr: "127.0.0.1:0", Destination: "127.0.0.1:1", DestinationID: id}}
	const tokenURL = "https://kith.test/oauth2/token"
	for _, tt := range []struct {
		name string
		cfg  sidecar.Config
		want string
	}{
		{"no sockets", sidecar.Config{Inbound: in}, "WorkloadSocket"},
		{"nothing to proxy", sidecar.Config{}, "an Inbound or an Outbound"},
		{"inbound without target", sidecar.Config{Inbound: &sidecar.Inbound{Addr: "127.0.0.1:0", Upstream: "http://x"}}, "Target"},
		{"inbound upstream not http", sidecar.Config{Inbound: &sidecar.Inbound{Addr: "127.0.0.1:0", Upstream: "127.0.0.1:1", Target: id}}, "not an http:// URL"},
		{"outbound without id", sidecar.Config{Outbound: []sidecar.Outbound{{Addr: "127.0.0.1:0", Destination: "127.0.0.1:1"}}}, "DestinationID"},
		{"scopes without token url", sidecar.Config{Outbound: out, Tokens: sidecar.Tokens{Scopes: []string{"read"}}}, "need a TokenURL"},
		{"http token url", sidecar.Config{Outbound: out, Tokens: sidecar.Tokens{TokenURL: "http://kith.test/oauth2/token"}}, "not an https:// URL"},
		{"tokens without outbound", sidecar.Config{Inbound: in, Tokens: sidecar.Tokens{TokenURL: tokenURL}}, "for Outbound proxies"},
		{"secret without client id", sidecar.Config{Outbound: out, Tokens: sidecar.Tokens{TokenURL: tokenURL, SecretFile: "/s"}}, "needs the ClientID"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if tt.name != "no sockets" {
				// Sockets nothing serves: Run must fail before it dials.
				cfg.WorkloadSocket, cfg.DataPlaneSocket = "/nonexistent/w.sock", "/nonexistent/d.sock"
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if err := sidecar.Run(ctx, cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error about %q", err, tt.want)
			}
		})
	}
}
