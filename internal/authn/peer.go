package authn

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Errors of [VerifyX509SVID]; test for them with errors.Is.
var (
	// ErrNoX509SVID: the peer presented no certificate.
	ErrNoX509SVID = errors.New("authn: no X509-SVID presented")
	// ErrUntrustedDomain: the bundle source holds no bundle for the
	// trust domain of the peer's SPIFFE ID.
	ErrUntrustedDomain = errors.New("authn: trust domain not trusted")
	// ErrInvalidX509SVID: the chain is not an X509-SVID or does not verify
	// against its trust domain's bundle at the given time.
	ErrInvalidX509SVID = errors.New("authn: invalid X509-SVID")
)

// VerifyX509SVID verifies certs, a peer's certificate chain leaf first as
// TLS presents it, as an X509-SVID at time now: against the X.509 bundle
// of its trust domain in bundles (own or federated) and then against the
// revocation set (nil skips it, see [CheckX509SVID]). It returns the
// peer's SPIFFE ID.
//
// It returns an error wrapping [ErrNoX509SVID] for an empty chain,
// [ErrUntrustedDomain] when no bundle is known for the peer's trust
// domain, [ErrInvalidX509SVID] for a chain that does not verify, or
// [ErrRevoked] for a revoked one.
func VerifyX509SVID(certs []*x509.Certificate, bundles x509bundle.Source, revoked RevocationChecker, now time.Time) (spiffeid.ID, error) {
	if len(certs) == 0 {
		return spiffeid.ID{}, ErrNoX509SVID
	}
	id, err := x509svid.IDFromCert(certs[0])
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: %v", ErrInvalidX509SVID, err)
	}
	if _, err := bundles.GetX509BundleForTrustDomain(id.TrustDomain()); err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: %s", ErrUntrustedDomain, id.TrustDomain())
	}
	if _, _, err := x509svid.Verify(certs, bundles, x509svid.WithTime(now)); err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: %v", ErrInvalidX509SVID, err)
	}
	if err := CheckX509SVID(revoked, id, certs[0]); err != nil {
		return spiffeid.ID{}, err
	}
	return id, nil
}
