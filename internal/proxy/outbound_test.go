package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/proxy/proxytest"
)

// staticTokens attaches one token and counts the calls it served.
type staticTokens struct {
	token string
	used  atomic.Int32
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (s *staticTokens) Transport(base http.RoundTripper) http.RoundTripper {
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		s.used.Add(1)
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+s.token)
		return base.RoundTrip(r)
	})
}

// newOutbound starts an outbound proxy for orders to the harness.
func newOutbound(t testing.TB, h *harness, tokens, stepUp proxy.TokenTransport) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := proxy.OutboundConfig{Listener: ln, Destination: h.addr, DestinationID: target, SVID: h.env.SVID(orders),
		Bundles: h.env.Bundles, Revocations: h.env.Revocations, Telemetry: h.tel}
	if tokens != nil {
		cfg.Tokens = tokens
	}
	if stepUp != nil {
		cfg.StepUpTokens = stepUp
	}
	out, err := proxy.NewOutbound(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, out.Run)
	return "http://" + out.Addr().String()
}

// TestOutboundStepUp sends a call that needs step-up through the outbound
// proxy: the first token is refused with a challenge, the proxy retries
// once with the stronger token, and the caller sees only the success.
func TestOutboundStepUp(t *testing.T) {
	h := newHarness(t, echo, false)
	weak := &staticTokens{token: h.env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders", ACR: "urn:kith:acr:secret"}, target.String(), proxytest.SignGood)}
	strong := &staticTokens{token: h.env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders", ACR: "urn:kith:acr:svid"}, target.String(), proxytest.SignGood)}
	base := newOutbound(t, h, weak, strong)
	tests := []struct {
		name             string
		path, body       string
		status           int
		weakUsed, strong int32
	}{
		{"no step-up needed", "/api/x", "", 200, 1, 0},
		{"step-up satisfied by the retry", "/admin", "payload", 200, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			weak.used.Store(0)
			strong.used.Store(0)
			resp, err := http.Post(base+tt.path, "text/plain", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if !strings.Contains(string(b), "Kith-Caller-Spiffe-Id="+orders.String()) {
				t.Errorf("upstream did not see the verified caller: %s", b)
			}
			if weak.used.Load() != tt.weakUsed || strong.used.Load() != tt.strong {
				t.Errorf("tokens used: weak %d strong %d, want %d and %d", weak.used.Load(), strong.used.Load(), tt.weakUsed, tt.strong)
			}
		})
	}
	t.Run("without a stronger token the challenge reaches the app", func(t *testing.T) {
		base := newOutbound(t, h, weak, nil)
		resp, err := http.Get(base + "/admin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_user_authentication") {
			t.Errorf("got %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}

// TestGRPC calls grpc's health service through the inbound proxy over
// mTLS, and through the outbound and inbound proxies from a plaintext
// client: HTTP/2 end to end with trailers.
func TestGRPC(t *testing.T) {
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	h := newHarness(t, nil, true)
	// Replace the echo upstream: start a gRPC server and point a second
	// inbound proxy at it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	h = newHarnessTo(t, h, "http://"+ln.Addr().String())

	direct, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(credentials.NewTLS(
		tlsconfig.MTLSClientConfig(h.env.SVID(orders), h.env.Bundles, tlsconfig.AuthorizeID(target)))))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	viaOutbound, err := grpc.NewClient(strings.TrimPrefix(newOutbound(t, h, nil, nil), "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer viaOutbound.Close()
	for name, cc := range map[string]*grpc.ClientConn{"direct": direct, "via outbound": viaOutbound} {
		t.Run(name, func(t *testing.T) {
			resp, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if resp.Status != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("status %v", resp.Status)
			}
		})
	}
	t.Run("refused caller", func(t *testing.T) {
		cc, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(credentials.NewTLS(
			tlsconfig.MTLSClientConfig(h.env.SVID(badActor), h.env.Bundles, tlsconfig.AuthorizeID(target)))))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		if _, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{}); err == nil {
			t.Error("a quarantined caller reached the gRPC service")
		}
	})
}

// TestTCP runs identity policy on a raw TCP connection to an echo server.
func TestTCP(t *testing.T) {
	h := newHarness(t, echo, false)
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	p, err := proxy.NewTCP(proxy.TCPConfig{Listener: ln, Upstream: up.Addr().String(), Enforcer: h.enf, SVID: h.server})
	if err != nil {
		t.Fatal(err)
	}
	run(t, p.Run)
	for _, tt := range []struct {
		name   string
		caller bool
		id     string
		echoes bool
	}{{"allowed", true, orders.String(), true}, {"quarantined", true, badActor.String(), false}, {"untrusted", true, evil.String(), false}} {
		t.Run(tt.name, func(t *testing.T) {
			svid := h.env.SVID(mustID(tt.id))
			c, err := tlsDial(p.Addr().String(), tlsconfig.MTLSClientConfig(svid, h.env.Bundles, tlsconfig.AuthorizeID(target)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "ping\n")
			line, err := bufio.NewReader(c).ReadString('\n')
			if got := err == nil && line == "ping\n"; got != tt.echoes {
				t.Errorf("echoed = %v (%q, %v), want %v", got, line, err, tt.echoes)
			}
		})
	}
}

// TestStreamingResponse sends a call through both proxies to an upstream
// that streams its answer (no Content-Length) and writes each chunk only
// after the caller has read the one before: the proxies must pass each
// chunk on as it comes rather than buffer the answer.
func TestStreamingResponse(t *testing.T) {
	next := make(chan struct{})
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			if i > 0 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
		}
	})
	h := newHarness(t, upstream, false)
	tok := &staticTokens{token: h.env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders"}, target.String(), proxytest.SignGood)}
	base := newOutbound(t, h, tok, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("chunk %d: %v (status %d)", i, err, resp.StatusCode)
		}
		if want := fmt.Sprintf("chunk %d\n", i); line != want {
			t.Fatalf("read %q, want %q", line, want)
		}
		if i < 2 {
			next <- struct{}{}
		}
	}
}
