// Package kithhttp enforces Kith's trust rules inside a Go service, for
// services that prefer no sidecar: [Middleware] runs every call through
// the same verification-and-decision path as the `kith proxy` sidecar
// (package enforce: the caller's X509-SVID, its access token and its
// binding, the policy decision, rate limits) and answers refusals the same
// way; [NewTransport] is the outbound side (mutual TLS with the service's
// SVID, a token, one retry after a step-up challenge).
//
// The service terminates TLS itself and must ask for client certificates
// without verifying them at the handshake (tls.RequestClientCert): the
// middleware verifies them, so that a refusal carries a reason.
//
// [FromAgent] builds the middleware from the node agent's data-plane
// socket, which it follows for as long as the service runs:
//
//	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
//	mw, feed, err := kithhttp.FromAgent(ctx, kithhttp.AgentConfig{
//		DataPlaneSocket: "/var/lib/kith-agent/private/dataplane.sock",
//		Target:          spiffeid.RequireFromString("spiffe://example.org/payments"),
//	})
//	cancel()
//	if err != nil { … }
//	defer feed.Close()
//	srv := &http.Server{
//		Handler:   mw.Handler(mux),
//		TLSConfig: tlsconfig.TLSServerConfig(svidSource), // plus ClientAuth: tls.RequestClientCert
//	}
//	// in a handler:
//	caller, ok := kithhttp.CallerFromContext(r.Context())
//	log.Printf("%s called with scopes %v", caller.SPIFFEID, caller.Scopes)
//
// Outbound:
//
//	rt, err := kithhttp.NewTransport(kithhttp.TransportConfig{
//		DestinationID: spiffeid.RequireFromString("spiffe://example.org/payments"),
//		SVID:          svidSource,
//		Bundles:       bundleSource,
//		Tokens:        tokenSource, // *oauth.TokenSource
//	})
//	client := &http.Client{Transport: rt}
//
// The package holds no verification or decision logic of its own.
package kithhttp

import (
	"context"
	"errors"
	"net/http"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/proxy"
)

// Config configures a [Middleware].
type Config struct {
	// Enforcer is the shared request path, built with enforce.New from
	// the data plane's view. Required.
	Enforcer *enforce.Enforcer
	// Observe, if set, is called after every call with its result, for
	// logs and metrics; it must not block.
	Observe func(r *http.Request, res *enforce.Result)
	// Telemetry, if set, records every call as the proxy does: metrics,
	// access log, and call records uploaded for the ledger.
	Telemetry *proxy.Telemetry
}

// Middleware enforces Kith's rules on a service's inbound calls.
type Middleware struct {
	cfg   Config
	guard *proxy.Guard
}

// New returns a Middleware for cfg. It returns an error if Enforcer is
// nil.
func New(cfg Config) (*Middleware, error) {
	if cfg.Enforcer == nil {
		return nil, errors.New("kithhttp: Config.Enforcer is required")
	}
	return &Middleware{cfg: cfg, guard: proxy.NewGuard(cfg.Enforcer, cfg.Telemetry, nil)}, nil
}

// Caller is the verified caller of a call.
type Caller struct {
	// SPIFFEID is the caller's verified SPIFFE ID.
	SPIFFEID spiffeid.ID
	// ClientID is the OAuth client of the caller's token, if any.
	ClientID string
	// Scopes are the scopes the call may use (narrowed by a restrict
	// decision).
	Scopes []string
	// Decision is the policy action that let the call through.
	Decision string
}

type callerKey struct{}

// Handler returns next guarded by the middleware: a refused call is
// answered with the status, headers and RFC 9457 problem body of package
// enforce, an allowed one reaches next with its [Caller] in the context.
// Both go through proxy.Guard, the inbound proxy's own path, and are
// recorded with Config.Telemetry. A call refused for its client
// certificate (revoked, invalid, of an untrusted domain) is answered with
// Connection: close (GOAWAY on HTTP/2), so that the caller's next call
// comes over a new connection with its current certificate.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := m.guard.Serve(w, r, func(w http.ResponseWriter, r *http.Request, res *enforce.Result) {
			c := Caller{SPIFFEID: res.Caller.SPIFFEID, ClientID: res.Caller.ClientID, Scopes: res.Caller.Scopes, Decision: res.Action()}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
		})
		if m.cfg.Observe != nil {
			m.cfg.Observe(r, res)
		}
	})
}

// Metrics returns the handler serving the middleware's Prometheus
// metrics (calls, decisions, verification failures, latency), the same as
// the proxy's, or nil when Config.Telemetry is nil.
func (m *Middleware) Metrics() http.Handler {
	if m.cfg.Telemetry == nil {
		return nil
	}
	return m.cfg.Telemetry.Handler()
}

// CallerFromContext returns the caller [Middleware.Handler] verified,
// and false outside a guarded handler.
func CallerFromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// TransportConfig configures [NewTransport]; see proxy.TransportConfig.
type TransportConfig = proxy.TransportConfig

// NewTransport returns the outbound transport shared with the outbound
// proxy: mutual TLS with the service's SVID to a destination that must
// present TransportConfig.DestinationID, an access token, and one retry
// with a stronger token after a step-up challenge. The call after the
// service's SVID changed goes over a new connection made with it; with
// revocations that signal their changes (the data-plane view),
// connections to a destination revoked later are dropped. It returns an
// error if a required field is missing.
func NewTransport(cfg TransportConfig) (http.RoundTripper, error) { return proxy.NewTransport(cfg) }
