package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/revocation"
)

// peerCert is a client certificate verified as an X509-SVID of the trust
// domain.
type peerCert struct {
	id     spiffeid.ID
	x5t    string // base64url SHA-256 of the leaf's DER: cnf.x5t#S256
	serial string // the leaf's serial number in lower-case hex
}

// verifiedCert is a cached verification of a leaf certificate.
type verifiedCert struct {
	peer      *peerCert
	notBefore time.Time
	notAfter  time.Time
	seq       uint64 // the bundle sequence it was verified against
}

// peerVerifier verifies client certificates and remembers the leaves it
// verified until they expire or the bundle changes, since an X.509 chain
// verification costs far more than the rest of a token request.
type peerVerifier struct {
	mu    sync.Mutex
	cache map[[sha256.Size]byte]verifiedCert
}

// verifyPeer returns the request's client certificate verified as an
// X509-SVID of the trust domain and not revoked, nil if the client sent no
// certificate, or an error saying why the certificate does not verify.
func (s *Service) verifyPeer(r *http.Request, now time.Time) (*peerCert, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, nil
	}
	certs := r.TLS.PeerCertificates
	leaf := certs[0]
	sum := sha256.Sum256(leaf.Raw)
	b := s.bundles.get()
	seq, _ := b.SequenceNumber()

	v := &s.peers
	v.mu.Lock()
	c, ok := v.cache[sum]
	v.mu.Unlock()
	if !ok || c.seq != seq || now.Before(c.notBefore) || !now.Before(c.notAfter) {
		id, _, err := x509svid.Verify(certs, b, x509svid.WithTime(now))
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		if id.TrustDomain() != s.cfg.TrustDomain {
			return nil, fmt.Errorf("client certificate of foreign trust domain %s", id.TrustDomain())
		}
		c = verifiedCert{
			peer: &peerCert{id: id, x5t: base64.RawURLEncoding.EncodeToString(sum[:]),
				serial: leaf.SerialNumber.Text(16)},
			notBefore: leaf.NotBefore, notAfter: leaf.NotAfter, seq: seq,
		}
		v.mu.Lock()
		if v.cache == nil || len(v.cache) >= maxCached {
			v.cache = make(map[[sha256.Size]byte]verifiedCert)
		}
		v.cache[sum] = c
		v.mu.Unlock()
	}
	rev := s.cfg.Revocations
	if rev.Revoked(revocation.KindX509Serial, c.peer.serial, c.notBefore) ||
		rev.Revoked(revocation.KindSPIFFEID, c.peer.id.String(), c.notBefore) {
		return nil, errors.New("client certificate is revoked")
	}
	return c.peer, nil
}
