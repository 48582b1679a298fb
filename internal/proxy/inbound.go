package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/enforce"
)

// InboundConfig configures an [Inbound] proxy. Zero values are documented
// defaults.
type InboundConfig struct {
	// Addr is the address to listen on, such as ":8443"; ignored when
	// Listener is set.
	Addr string
	// Listener, if set, is the listener to serve on; Run closes it.
	Listener net.Listener
	// Upstream is the local service, such as http://127.0.0.1:8080.
	// Required.
	Upstream *url.URL
	// H2C forwards over unencrypted HTTP/2 (needed for gRPC upstreams);
	// false forwards over HTTP/1.1.
	H2C bool
	// Enforcer verifies and decides every call. Required.
	Enforcer *enforce.Enforcer
	// SVID gives the service's X509-SVID, read at every handshake so that
	// rotation drops no connection; *workloadapi.X509Source implements
	// it. Required.
	SVID x509svid.Source
	// Telemetry, if set, records every call.
	Telemetry *Telemetry
	// Logger receives errors of the proxy itself; nil discards them.
	Logger *slog.Logger
}

// Inbound is the inbound proxy: mTLS in, enforcement, forwarding out.
type Inbound struct {
	cfg   InboundConfig
	ln    net.Listener
	rp    *httputil.ReverseProxy
	guard *Guard
	conns *peerConns // nil when the enforcer's revocations do not signal changes
}

type resultKey struct{}

// peerConnKey is the context key of a call's *peerConn.
type peerConnKey struct{}

// NewInbound returns an Inbound proxy listening on cfg.Addr (or
// cfg.Listener). It returns an error if a required field is missing or
// listening fails.
func NewInbound(cfg InboundConfig) (*Inbound, error) {
	if cfg.Upstream == nil || cfg.Enforcer == nil || cfg.SVID == nil {
		return nil, errors.New("proxy: InboundConfig needs Upstream, Enforcer and SVID")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Inbound{cfg: cfg, ln: cfg.Listener, guard: NewGuard(cfg.Enforcer, cfg.Telemetry, cfg.Logger),
		conns: newPeerConns(cfg.Enforcer.Revocations(), cfg.Logger)}
	if p.ln == nil {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("proxy: listen: %w", err)
		}
		p.ln = ln
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(cfg.Upstream)
			pr.SetXForwarded()
			stripKith(pr.Out.Header)
			if res, ok := pr.In.Context().Value(resultKey{}).(*enforce.Result); ok {
				setCaller(pr.Out.Header, res)
			}
		},
		Transport: upstreamTransport(cfg.H2C),
		// Streams (no Content-Length, or text/event-stream: gRPC, SSE)
		// are flushed on every write by ReverseProxy itself; answers of
		// known length go out in as few writes as their size allows.
		FlushInterval: 0,
		BufferPool:    copyBuffers,
		ErrorHandler:  p.upstreamError,
	}
	return p, nil
}

// upstreamTransport returns the transport to a plain local upstream.
func upstreamTransport(h2c bool) *http.Transport {
	t := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	if h2c {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	return t
}

// upstreamError is the proxy's one answer when the upstream fails; the
// cause is logged, not sent.
func (p *Inbound) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	p.cfg.Logger.Warn("upstream failed", "upstream", p.cfg.Upstream.String(), "path", r.URL.Path, "err", err)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusBadGateway)
	w.Write([]byte(`{"type":"https://kith.dev/problems/upstream_unavailable","title":"The service is unavailable","status":502,"reason":"upstream_unavailable"}`))
}

// Addr returns the address the proxy listens on.
func (p *Inbound) Addr() net.Addr { return p.ln.Addr() }

// ServeHTTP enforces and forwards one call. r must have come over the
// proxy's TLS listener (r.TLS holds the peer chain); without it every call
// lacks a client certificate.
func (p *Inbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.conns != nil && r.TLS != nil {
		if pc, ok := r.Context().Value(peerConnKey{}).(*peerConn); ok && pc.peer.Load() == nil {
			pc.setPeer(r.TLS.PeerCertificates)
		}
	}
	p.guard.Serve(w, r, func(w http.ResponseWriter, r *http.Request, res *enforce.Result) {
		p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), resultKey{}, res)))
	})
}

// Guard is the inbound side of the request path, shared by [Inbound] and
// the SDK's middleware: it checks a call with Enforcer, answers a refusal
// as package enforce says, hands an allowed call on, and records the
// call with Telemetry.
type Guard struct {
	// Enforcer verifies and decides every call. Required.
	Enforcer *enforce.Enforcer
	// Telemetry, if set, records every call.
	Telemetry *Telemetry
	// Logger receives the causes of refusals at Debug; nil discards them.
	Logger *slog.Logger

	target string
}

// NewGuard returns a Guard deciding with enf and recording with tel (nil
// for none). logger may be nil.
func NewGuard(enf *enforce.Enforcer, tel *Telemetry, logger *slog.Logger) *Guard {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Guard{Enforcer: enf, Telemetry: tel, Logger: logger, target: enf.Target().String()}
}

// Serve checks r: a refused call is answered with the status, headers
// and problem body of package enforce; an allowed one is passed to
// forward with its result. Either way the call, with the bytes read and
// written and its latency, is recorded, and its result returned.
func (g *Guard) Serve(w http.ResponseWriter, r *http.Request, forward func(w http.ResponseWriter, r *http.Request, res *enforce.Result)) *enforce.Result {
	start := time.Now()
	res := g.Enforcer.Check(r)
	cw := &countingWriter{ResponseWriter: w}
	var body *countingBody
	if res.Allowed() {
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{body: r.Body}
			r.Body = body
		}
		forward(cw, r, res)
	} else {
		if res.Err != nil {
			g.Logger.Debug("call refused", "reason", res.Reason, "err", res.Err)
		}
		switch res.Reason {
		case enforce.ReasonRevokedClientCert, enforce.ReasonBadClientCert, enforce.ReasonUntrustedDomain:
			// The certificate of this connection will not pass again:
			// have the caller drop the connection, so that its next call
			// comes over a new one, with its current certificate. HTTP/1.1
			// closes after this answer, HTTP/2 sends GOAWAY.
			w.Header().Set("Connection", "close")
		}
		res.WriteError(cw)
	}
	if g.Telemetry == nil {
		return res
	}
	if cw.status == 0 {
		cw.status = http.StatusOK // what net/http sends for a silent handler
	}
	rec := callrecord.Record{Time: start, Direction: "inbound", Target: g.target, Method: r.Method, Path: r.URL.Path,
		Status: cw.status, BytesOut: cw.n, LatencyMicros: time.Since(start).Microseconds(),
		Source: callrecord.SourceOf(r.RemoteAddr)}
	if body != nil {
		rec.BytesIn = body.count()
	}
	fillRecord(&rec, res)
	g.Telemetry.Observe(r.Context(), rec)
	return res
}

// serverTLS returns the TLS configuration of a listener serving the SVIDs
// of src: the certificate is read at every handshake, and client
// certificates are asked for but verified by package enforce (so that a
// refusal can be answered with a reason), or required when require is set.
func serverTLS(src x509svid.Source, require bool) *tls.Config {
	c := tlsconfig.TLSServerConfig(src)
	c.MinVersion = tls.VersionTLS12
	c.ClientAuth = tls.RequestClientCert
	if require {
		c.ClientAuth = tls.RequireAnyClientCert
	}
	return c
}

// Run serves until ctx is done, then shuts down gracefully (waiting up to
// ten seconds for calls in flight). It returns the server's error, or nil
// after a shutdown.
//
// When the enforcer's revocation set signals its changes (a
// [RevocationFeed], as the data-plane view is), Run also closes the
// connections of callers whose certificate it comes to cover: kept-alive
// HTTP/1.1 connections and HTTP/2 connections with their streams in
// flight.
func (p *Inbound) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           p,
		TLSConfig:         serverTLS(p.cfg.SVID, false),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.cfg.Logger.Handler(), slog.LevelDebug),
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	if p.conns != nil {
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			// Cut the TCP connection under TLS: closing the TLS one
			// could wait on a close_notify the peer does not read.
			raw := c
			if tc, ok := c.(*tls.Conn); ok {
				raw = tc.NetConn()
			}
			return context.WithValue(ctx, peerConnKey{}, p.conns.add(c, func() { raw.Close() }))
		}
		srv.ConnState = func(c net.Conn, s http.ConnState) {
			if s == http.StateClosed || s == http.StateHijacked {
				p.conns.remove(c)
			}
		}
		sctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { p.conns.run(sctx) })
		defer func() {
			stop()
			wg.Wait()
		}()
	}
	return serve(ctx, srv, func() error { return srv.ServeTLS(p.ln, "", "") })
}

// serve runs fn (a Serve call of srv) until ctx is done and shuts srv down.
func serve(ctx context.Context, srv *http.Server, fn func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- fn() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && serr != nil {
		return serr
	}
	return err
}
