package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/callrecord"
)

// TokenTransport attaches access tokens to requests sent through base;
// *oauth.TokenSource of sdk/oauth implements it (cached tokens, refreshed
// before expiry, DPoP proofs for DPoP-bound tokens).
type TokenTransport interface {
	Transport(base http.RoundTripper) http.RoundTripper
}

// OutboundConfig configures an [Outbound] proxy. Zero values are
// documented defaults.
type OutboundConfig struct {
	// Addr is the local address the application sends plain HTTP to;
	// ignored when Listener is set.
	Addr string
	// Listener, if set, is the listener to serve on; Run closes it.
	Listener net.Listener
	// Destination is the destination's host:port. Required.
	Destination string
	// DestinationID is the SPIFFE ID the destination must present.
	// Required.
	DestinationID spiffeid.ID
	// SVID gives the application's X509-SVID. Required.
	SVID x509svid.Source
	// Bundles gives the trust bundles to verify the destination with.
	// Required.
	Bundles x509bundle.Source
	// Revocations, if set, refuses a revoked destination certificate.
	Revocations authn.RevocationChecker
	// Tokens, if set, attaches an access token to every call.
	Tokens TokenTransport
	// StepUpTokens, if set, gives stronger tokens: a call answered with
	// an RFC 9470 step-up challenge is retried once with one of them.
	StepUpTokens TokenTransport
	// Telemetry, if set, records every call.
	Telemetry *Telemetry
	// Logger receives errors of the proxy itself; nil discards them.
	Logger *slog.Logger
}

// Outbound is the outbound proxy: plain HTTP in from the application,
// mutual TLS and a token out to one destination.
type Outbound struct {
	cfg OutboundConfig
	ln  net.Listener
	rp  *httputil.ReverseProxy
}

// maxReplay is the largest request body kept for a step-up retry; a
// larger call is not retried.
const maxReplay = 1 << 20

// NewOutbound returns an Outbound proxy listening on cfg.Addr (or
// cfg.Listener). It returns an error if a required field is missing or
// listening fails.
func NewOutbound(cfg OutboundConfig) (*Outbound, error) {
	if cfg.Destination == "" || cfg.DestinationID.IsZero() || cfg.SVID == nil || cfg.Bundles == nil {
		return nil, errors.New("proxy: OutboundConfig needs Destination, DestinationID, SVID and Bundles")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Outbound{cfg: cfg, ln: cfg.Listener}
	if p.ln == nil {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("proxy: listen: %w", err)
		}
		p.ln = ln
	}
	rt, err := NewTransport(TransportConfig{DestinationID: cfg.DestinationID, SVID: cfg.SVID, Bundles: cfg.Bundles,
		Revocations: cfg.Revocations, Tokens: cfg.Tokens, StepUpTokens: cfg.StepUpTokens})
	if err != nil {
		return nil, err
	}
	dest := &url.URL{Scheme: "https", Host: cfg.Destination}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(dest)
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("DPoP")
		},
		Transport: rt,
		// Streams (no Content-Length, or text/event-stream: gRPC, SSE)
		// are flushed on every write by ReverseProxy itself; answers of
		// known length go out in as few writes as their size allows.
		FlushInterval: 0,
		BufferPool:    copyBuffers,
		ErrorHandler:  p.destinationError,
	}
	return p, nil
}

// destinationError is the outbound proxy's one answer when the
// destination cannot be reached; the cause is logged, not sent.
func (p *Outbound) destinationError(w http.ResponseWriter, r *http.Request, err error) {
	p.cfg.Logger.Warn("destination failed", "destination", p.cfg.Destination, "path", r.URL.Path, "err", err)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusBadGateway)
	w.Write([]byte(`{"type":"https://kith.dev/problems/destination_unavailable","title":"The destination is unavailable","status":502,"reason":"destination_unavailable"}`))
}

// Addr returns the address the proxy listens on.
func (p *Outbound) Addr() net.Addr { return p.ln.Addr() }

// ServeHTTP forwards one call of the application.
func (p *Outbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	cw := &countingWriter{ResponseWriter: w}
	var body *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &countingBody{body: r.Body}
		r.Body = body
	}
	p.rp.ServeHTTP(cw, r)
	if p.cfg.Telemetry == nil {
		return
	}
	rec := callrecord.Record{Time: start, Direction: "outbound", Target: p.cfg.DestinationID.String(), Method: r.Method, Path: r.URL.Path,
		Status: cw.status, BytesOut: cw.n, LatencyMicros: time.Since(start).Microseconds()}
	if body != nil {
		rec.BytesIn = body.count()
	}
	p.cfg.Telemetry.Observe(r.Context(), rec)
}

// Run serves plain HTTP/1.1 and h2c until ctx is done, then shuts down
// gracefully. It returns the server's error, or nil after a shutdown.
func (p *Outbound) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.cfg.Logger.Handler(), slog.LevelDebug),
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return serve(ctx, srv, func() error { return srv.Serve(p.ln) })
}

// TransportConfig configures [NewTransport].
type TransportConfig struct {
	// DestinationID is the SPIFFE ID the destination must present.
	// Required.
	DestinationID spiffeid.ID
	// SVID gives the caller's X509-SVID. Required.
	SVID x509svid.Source
	// Bundles gives the trust bundles to verify the destination with.
	// Required.
	Bundles x509bundle.Source
	// Revocations, if set, refuses a revoked destination certificate.
	// Connections to a destination revoked later are closed when it is a
	// [RevocationFeed].
	Revocations authn.RevocationChecker
	// Tokens, if set, attaches an access token to every call.
	Tokens TokenTransport
	// StepUpTokens, if set, gives stronger tokens for one retry of a call
	// answered with an RFC 9470 step-up challenge.
	StepUpTokens TokenTransport
}

// NewTransport returns the outbound side of the request path, shared by
// [Outbound] and the SDK's client transport: mutual TLS with cfg.SVID to
// a destination that must present cfg.DestinationID (HTTP/2 when it
// offers it), a token from cfg.Tokens, and one retry with a token from
// cfg.StepUpTokens after a step-up challenge (for bodies up to 1 MiB).
//
// No call goes over a connection made with an earlier SVID of the
// workload: the call after the SVID changed (rotation, or a new SVID
// after a revocation) opens a new connection with it. When
// cfg.Revocations signals its changes (a [RevocationFeed], as the
// data-plane view is), connections to a destination whose certificate it
// comes to cover are closed at the next call. The transport's
// CloseIdleConnections closes the idle connections of every SVID.
//
// It returns an error if a required field is missing; the transport's
// RoundTrip returns one wrapping the source's error while cfg.SVID has
// never given an SVID.
func NewTransport(cfg TransportConfig) (http.RoundTripper, error) {
	if cfg.DestinationID.IsZero() || cfg.SVID == nil || cfg.Bundles == nil {
		return nil, errors.New("proxy: TransportConfig needs DestinationID, SVID and Bundles")
	}
	base := newMTLSTransport(cfg)
	rt := &stepUpTransport{primary: base, base: base}
	if cfg.Tokens != nil {
		rt.primary = cfg.Tokens.Transport(base)
	}
	if cfg.StepUpTokens != nil {
		rt.stepUp = cfg.StepUpTokens.Transport(base)
	}
	return rt, nil
}

// stepUpTransport sends a call with primary and, when the answer is an
// RFC 9470 step-up challenge, once more with stepUp; both send over base.
type stepUpTransport struct {
	primary, stepUp http.RoundTripper
	base            *mtlsTransport
}

// CloseIdleConnections closes the idle connections of the transport, as
// http.Client.CloseIdleConnections asks.
func (t *stepUpTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// RoundTrip implements http.RoundTripper.
func (t *stepUpTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.stepUp == nil {
		return t.primary.RoundTrip(req)
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		buf, err := io.ReadAll(io.LimitReader(req.Body, maxReplay+1))
		if err != nil {
			return nil, fmt.Errorf("proxy: read request body: %w", err)
		}
		if len(buf) > maxReplay {
			req.Body = readCloser{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
			return t.primary.RoundTrip(req)
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(buf))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	}
	resp, err := t.primary.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !isStepUp(resp.Header) {
		return resp, err
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return t.stepUp.RoundTrip(retry)
}

// isStepUp reports whether h carries an RFC 9470 challenge.
func isStepUp(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		if strings.Contains(v, "insufficient_user_authentication") {
			return true
		}
	}
	return false
}

type readCloser struct {
	io.Reader
	io.Closer
}
