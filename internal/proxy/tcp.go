package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/enforce"
)

// TCPConfig configures a [TCP] proxy. Zero values are documented
// defaults.
type TCPConfig struct {
	// Addr is the address to listen on; ignored when Listener is set.
	Addr string
	// Listener, if set, is the listener to serve on; Run closes it.
	Listener net.Listener
	// Upstream is the local service's host:port. Required.
	Upstream string
	// Enforcer verifies the peer and decides with identity policy only
	// (see enforce.Enforcer.CheckConn). Required.
	Enforcer *enforce.Enforcer
	// SVID gives the service's X509-SVID. Required.
	SVID x509svid.Source
	// Telemetry, if set, records every connection.
	Telemetry *Telemetry
	// Logger receives errors of the proxy itself; nil discards them.
	Logger *slog.Logger
}

// TCP is the inbound proxy for non-HTTP protocols: mutual TLS, identity
// policy, then bytes both ways.
type TCP struct {
	cfg   TCPConfig
	ln    net.Listener
	conns *peerConns // nil when the enforcer's revocations do not signal changes
}

// NewTCP returns a TCP proxy listening on cfg.Addr (or cfg.Listener). It
// returns an error if a required field is missing or listening fails.
func NewTCP(cfg TCPConfig) (*TCP, error) {
	if cfg.Upstream == "" || cfg.Enforcer == nil || cfg.SVID == nil {
		return nil, errors.New("proxy: TCPConfig needs Upstream, Enforcer and SVID")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &TCP{cfg: cfg, ln: cfg.Listener, conns: newPeerConns(cfg.Enforcer.Revocations(), cfg.Logger)}
	if p.ln == nil {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("proxy: listen: %w", err)
		}
		p.ln = ln
	}
	return p, nil
}

// Addr returns the address the proxy listens on.
func (p *TCP) Addr() net.Addr { return p.ln.Addr() }

// Run accepts connections until ctx is done, then closes the listener and
// every open connection and waits for their goroutines. It returns the
// listener's error, or nil after ctx is done.
//
// When the enforcer's revocation set signals its changes (a
// [RevocationFeed], as the data-plane view is), Run also cuts the tunnels
// of peers whose certificate it comes to cover, both ways.
func (p *TCP) Run(ctx context.Context) error {
	tlsConf := serverTLS(p.cfg.SVID, true)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Go(func() {
		<-ctx.Done()
		p.ln.Close()
	})
	wg.Go(func() { p.conns.run(ctx) })
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("proxy: accept: %w", err)
		}
		wg.Go(func() { p.handle(ctx, tls.Server(c, tlsConf)) })
	}
}

// handle serves one connection. Cancelling its context, as ctx being
// done or its peer being revoked does, closes both sides.
func (p *TCP) handle(ctx context.Context, c *tls.Conn) {
	start := time.Now()
	ctx, cut := context.WithCancel(ctx)
	defer cut()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := c.HandshakeContext(hctx)
	cancel()
	if err != nil {
		p.cfg.Logger.Debug("handshake failed", "peer", c.RemoteAddr().String(), "err", err)
		return
	}
	peer := c.ConnectionState().PeerCertificates
	// Held before the check, so that no revocation applied after the
	// check is missed.
	p.conns.add(c, cut).setPeer(peer)
	defer p.conns.remove(c)
	res := p.cfg.Enforcer.CheckConn(peer)
	rec := callrecord.Record{Time: start, Direction: "tcp", Target: p.cfg.Enforcer.Target().String(), Method: "CONNECT",
		Source: callrecord.SourceOf(c.RemoteAddr().String())}
	defer func() {
		fillRecord(&rec, res)
		rec.LatencyMicros = time.Since(start).Microseconds()
		p.cfg.Telemetry.Observe(ctx, rec)
	}()
	if !res.Allowed() {
		rec.Status = res.Status
		p.cfg.Logger.Debug("connection refused", "reason", res.Reason, "err", res.Err)
		return
	}
	up, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", p.cfg.Upstream)
	if err != nil {
		rec.Status = 502
		p.cfg.Logger.Warn("upstream failed", "upstream", p.cfg.Upstream, "err", err)
		return
	}
	defer up.Close()
	stopUp := context.AfterFunc(ctx, func() { up.Close() })
	defer stopUp()
	rec.Status = 200
	var wg sync.WaitGroup
	wg.Go(func() {
		n, _ := io.Copy(up, c)
		rec.BytesIn = n
		if tc, ok := up.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	})
	n, _ := io.Copy(c, up)
	rec.BytesOut = n
	c.CloseWrite()
	wg.Wait()
}
