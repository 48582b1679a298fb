package oauth

import (
	"fmt"
	"net/http"
	"time"

	"github.com/kith-dev/kith/internal/authn"
)

// peerCert is a client certificate verified as an X509-SVID of the trust
// domain; authResult.peer binds tokens to its Thumbprint.
type peerCert = authn.Peer

// newPeerVerifier returns the verifier of client certificates: X509-SVIDs
// of the trust domain alone, verified against its current bundle and the
// revocation set. A verified chain is remembered until a certificate of it
// expires or the bundle's sequence number changes, since a chain
// verification costs far more than the rest of a token request.
func newPeerVerifier(cfg Config, bundles *bundleCache, revs authn.RevocationChecker) (*authn.X509Verifier, error) {
	return authn.NewX509Verifier(authn.X509Config{Bundles: bundles, Revocations: revs, TrustDomain: cfg.TrustDomain,
		BundleVersion: bundles.version, MaxCacheEntries: maxCached})
}

// verifyPeer returns the request's client certificate verified as an
// X509-SVID of the trust domain and not revoked, nil if the client sent no
// certificate, or an error saying why the certificate does not verify.
func (s *Service) verifyPeer(r *http.Request, now time.Time) (*peerCert, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, nil
	}
	p, err := s.peers.Verify(r.TLS.PeerCertificates, now)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	return p, nil
}
