package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/authn"
)

// handshakeTimeout bounds the TLS handshake with a destination.
const handshakeTimeout = 10 * time.Second

// mtlsTransport is the mutual TLS layer of [NewTransport]. Its
// connections never outlive the certificates they were made with:
//
//   - Each X509-SVID of the workload has its own pool of connections (a
//     generation, one http.Transport). A call reads the SVID source and,
//     when the SVID changed, goes to a new generation at once; the old
//     one's idle connections are closed, and its busy ones (an HTTP/1.1
//     call, HTTP/2 streams in flight) finish their calls but are never
//     picked for a new one.
//   - When the revocation set signals its changes ([RevocationFeed]), the
//     first call after a change closes the connections to destinations
//     whose certificate it now covers, and starts a new generation so that
//     none of them is handed out again.
//
// On the hot path a call reads the SVID source (an atomic load for a
// source that holds its SVID so), compares one pointer, and polls the
// revocation feed's channel without blocking; no lock of its own.
type mtlsTransport struct {
	dest    spiffeid.ID
	svid    x509svid.Source
	bundles x509bundle.Source
	revs    authn.RevocationChecker
	feed    RevocationFeed // revs, when it signals its changes

	cur     atomic.Pointer[generation]
	changed atomic.Pointer[signal] // the feed's channel as of the last sweep

	mu      sync.Mutex    // serialises rotations and sweeps; guards retired
	retired []*generation // generations with connections still open

	connMu sync.Mutex // guards conns; never held while closing a connection
	conns  map[*clientConn]struct{}
}

// signal holds a change channel, for an atomic.Pointer.
type signal struct{ ch <-chan struct{} }

// generation is the pool of connections made with one X509-SVID.
type generation struct {
	svid *x509svid.SVID
	// leaf is the leaf certificate as the source last returned it: a
	// source may parse the same SVID again (the Workload API sends every
	// SVID with each bundle change), which keeps the generation.
	leaf atomic.Pointer[x509.Certificate]
	rt   *http.Transport
}

// clientConn is the TCP connection under one TLS connection to a
// destination, with the certificate the destination presented.
type clientConn struct {
	net.Conn
	t    *mtlsTransport
	gen  *generation
	id   spiffeid.ID
	leaf *x509.Certificate
}

// Close forgets c and closes it.
func (c *clientConn) Close() error {
	c.t.connMu.Lock()
	delete(c.t.conns, c)
	c.t.connMu.Unlock()
	return c.Conn.Close()
}

func newMTLSTransport(cfg TransportConfig) *mtlsTransport {
	t := &mtlsTransport{dest: cfg.DestinationID, svid: cfg.SVID, bundles: cfg.Bundles, revs: cfg.Revocations,
		conns: map[*clientConn]struct{}{}}
	if feed, ok := cfg.Revocations.(RevocationFeed); ok {
		t.feed = feed
		t.changed.Store(&signal{ch: feed.Changed()})
	}
	return t
}

// RoundTrip implements http.RoundTripper.
func (t *mtlsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.feed != nil {
		select {
		case <-t.changed.Load().ch:
			t.sweep()
		default:
		}
	}
	g := t.cur.Load()
	s, err := t.svid.GetX509SVID()
	switch {
	case err == nil && (s == nil || len(s.Certificates) == 0):
		err = errors.New("the source returned no certificate")
	case err == nil && (g == nil || s.Certificates[0] != g.leaf.Load()):
		g = t.rotate(s)
	}
	if g == nil { // no SVID yet; with one, a failing source keeps the last
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("proxy: X509-SVID: %w", err)
	}
	return g.rt.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of every generation.
func (t *mtlsTransport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g := t.cur.Load(); g != nil {
		g.rt.CloseIdleConnections()
	}
	t.closeRetiredLocked()
}

// rotate returns the generation of s, starting it if s is a new SVID.
func (t *mtlsTransport) rotate(s *x509svid.SVID) *generation {
	t.mu.Lock()
	defer t.mu.Unlock()
	leaf := s.Certificates[0]
	g := t.cur.Load()
	switch {
	case g != nil && g.leaf.Load() == leaf:
		return g // another call rotated first
	case g != nil && bytes.Equal(g.svid.Certificates[0].Raw, leaf.Raw):
		g.leaf.Store(leaf)
		return g
	}
	return t.startLocked(s)
}

// startLocked starts a generation for s and retires the current one.
func (t *mtlsTransport) startLocked(s *x509svid.SVID) *generation {
	g := &generation{svid: s}
	g.leaf.Store(s.Certificates[0])
	// *x509svid.SVID is an x509svid.Source of itself: every connection of
	// the generation presents s.
	conf := tlsconfig.MTLSClientConfig(s, t.bundles, authn.Authorizer(t.revs, tlsconfig.AuthorizeID(t.dest)))
	conf.NextProtos = []string{"h2", "http/1.1"}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	g.rt = &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return t.dial(ctx, g, dialer, conf, network, addr)
		},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	if old := t.cur.Swap(g); old != nil {
		t.retired = append(t.retired, old)
	}
	t.closeRetiredLocked()
	return g
}

// closeRetiredLocked closes the idle connections of retired generations
// and forgets those with no connection left.
func (t *mtlsTransport) closeRetiredLocked() {
	open := make(map[*generation]bool, len(t.retired))
	t.connMu.Lock()
	for c := range t.conns {
		open[c.gen] = true
	}
	t.connMu.Unlock()
	kept := t.retired[:0]
	for _, g := range t.retired {
		g.rt.CloseIdleConnections()
		if open[g] {
			kept = append(kept, g)
		}
	}
	clear(t.retired[len(kept):])
	t.retired = kept
}

// sweep closes the connections to destinations whose certificate the
// revocation set now covers.
func (t *mtlsTransport) sweep() {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.changed.Load().ch:
	default:
		return // another call swept first
	}
	t.changed.Store(&signal{ch: t.feed.Changed()}) // before checking: no change is missed
	var cut []*clientConn
	t.connMu.Lock()
	for c := range t.conns {
		if authn.CheckX509SVID(t.revs, c.id, c.leaf) != nil {
			cut = append(cut, c)
		}
	}
	t.connMu.Unlock()
	for _, c := range cut {
		c.Close()
	}
	if g := t.cur.Load(); len(cut) > 0 && g != nil {
		// A connection closed under its pool may still be handed out
		// before the pool notices: start a fresh pool.
		t.startLocked(g.svid)
	}
}

// dial opens a TLS connection of generation g to addr and holds it.
func (t *mtlsTransport) dial(ctx context.Context, g *generation, d *net.Dialer, conf *tls.Config, network, addr string) (net.Conn, error) {
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	conf = conf.Clone()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		conf.ServerName = host // SNI, as http.Transport sends it
	}
	cc := &clientConn{Conn: raw, t: t, gen: g}
	tc := tls.Client(cc, conf)
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, err
	}
	cc.leaf = tc.ConnectionState().PeerCertificates[0] // verified: there is one
	cc.id, _ = x509svid.IDFromCert(cc.leaf)
	t.connMu.Lock()
	t.conns[cc] = struct{}{}
	t.connMu.Unlock()
	// A revocation applied during the handshake, after the sweep that
	// followed it: refuse now rather than at the next change.
	if err := authn.CheckX509SVID(t.revs, cc.id, cc.leaf); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}
