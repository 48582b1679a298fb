package proxy

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/enforce"
)

// RevocationFeed is a revocation set that signals its changes: IsRevoked
// answers as authn.RevocationChecker does, and Changed returns a channel
// closed at the set's next change, after which IsRevoked answers from the
// changed set. *dataplane.View implements it (its Changed is closed at
// each feed message it applies).
//
// The proxies follow the revocation set of their enforcer, or of
// TransportConfig.Revocations, when it is a RevocationFeed: [Inbound] and
// [TCP] close the connections of peers whose certificate it comes to
// cover, and [NewTransport]'s transport stops using connections to a
// destination it comes to cover. With a set that does not signal its
// changes, a revocation refuses each new call (and new connection) only.
type RevocationFeed interface {
	authn.RevocationChecker
	Changed() <-chan struct{}
}

// peerConns holds the open connections of one listener with the
// certificate each peer connected with, and closes those whose
// certificate the revocation set comes to cover. A nil *peerConns holds
// nothing and closes nothing.
type peerConns struct {
	rev    RevocationFeed
	logger *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]*peerConn
}

// peerConn is one open connection.
type peerConn struct {
	// close cuts the connection: for a tunnel, both of its sides.
	close func()
	// peer is the peer's certificate, nil until known (an HTTP
	// connection learns it at its first call).
	peer atomic.Pointer[peerCert]
}

// peerCert is the certificate a peer connected with; leaf is nil for a
// peer that presented none.
type peerCert struct {
	id   spiffeid.ID // zero when the leaf holds no SPIFFE ID
	leaf *x509.Certificate
}

// newPeerConns returns the connection set of a listener whose enforcer
// asks rev, or nil when rev does not signal its changes.
func newPeerConns(rev enforce.Revocations, logger *slog.Logger) *peerConns {
	feed, ok := rev.(RevocationFeed)
	if !ok {
		return nil
	}
	return &peerConns{rev: feed, logger: logger, conns: map[net.Conn]*peerConn{}}
}

// add holds c, which close cuts, until remove.
func (p *peerConns) add(c net.Conn, close func()) *peerConn {
	pc := &peerConn{close: close}
	if p == nil {
		return pc
	}
	p.mu.Lock()
	p.conns[c] = pc
	p.mu.Unlock()
	return pc
}

// remove forgets c.
func (p *peerConns) remove(c net.Conn) {
	if p == nil {
		return
	}
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// setPeer records the peer chain certs (leaf first, as TLS presents it)
// the first time it is called.
func (pc *peerConn) setPeer(certs []*x509.Certificate) {
	if pc.peer.Load() != nil {
		return
	}
	pk := &peerCert{}
	if len(certs) > 0 {
		pk.leaf = certs[0]
		pk.id, _ = x509svid.IDFromCert(certs[0]) // zero for a leaf without one
	}
	pc.peer.CompareAndSwap(nil, pk)
}

// revoked reports whether the revocation set covers pc's peer
// certificate, known by now.
func (p *peerConns) revoked(pc *peerConn) bool {
	pk := pc.peer.Load()
	return p != nil && pk != nil && pk.leaf != nil && authn.CheckX509SVID(p.rev, pk.id, pk.leaf) != nil
}

// run closes the connections of revoked peers at every change of the
// revocation set until ctx is done.
func (p *peerConns) run(ctx context.Context) {
	if p == nil {
		return
	}
	for {
		changed := p.rev.Changed() // before the sweep: no change is missed
		p.sweep()
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// sweep closes the connections whose peer certificate is revoked.
func (p *peerConns) sweep() {
	p.mu.Lock()
	all := make([]*peerConn, 0, len(p.conns))
	for _, pc := range p.conns {
		all = append(all, pc)
	}
	p.mu.Unlock()
	for _, pc := range all {
		if p.revoked(pc) {
			pk := pc.peer.Load()
			p.logger.Info("connection closed: the peer's certificate is revoked",
				"peer", pk.id.String(), "serial", pk.leaf.SerialNumber.Text(16))
			pc.close()
		}
	}
}
