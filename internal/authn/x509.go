package authn

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Errors of [X509Verifier.Verify]; test for them with errors.Is.
var (
	// ErrNoX509SVID: the peer presented no certificate.
	ErrNoX509SVID = errors.New("authn: no X509-SVID presented")
	// ErrUntrustedDomain: the bundle source holds no bundle for the
	// trust domain of the peer's SPIFFE ID, or the verifier accepts only
	// another trust domain.
	ErrUntrustedDomain = errors.New("authn: trust domain not trusted")
	// ErrInvalidX509SVID: the chain is not an X509-SVID or does not verify
	// against its trust domain's bundle at the given time.
	ErrInvalidX509SVID = errors.New("authn: invalid X509-SVID")
)

// verifyChain verifies certs, a peer's certificate chain leaf first as
// TLS presents it, as an X509-SVID at time now against the X.509 bundle of
// its trust domain in bundles (own or federated), and returns the peer's
// SPIFFE ID. A non-zero only refuses the SPIFFE IDs of other trust
// domains. It does not consult the revocation set.
func verifyChain(certs []*x509.Certificate, bundles x509bundle.Source, only spiffeid.TrustDomain, now time.Time) (spiffeid.ID, error) {
	if len(certs) == 0 {
		return spiffeid.ID{}, ErrNoX509SVID
	}
	id, err := x509svid.IDFromCert(certs[0])
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: %v", ErrInvalidX509SVID, err)
	}
	if !only.IsZero() && id.TrustDomain() != only {
		return spiffeid.ID{}, fmt.Errorf("%w: %s is not %s", ErrUntrustedDomain, id.TrustDomain(), only)
	}
	if _, err := bundles.GetX509BundleForTrustDomain(id.TrustDomain()); err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: %s", ErrUntrustedDomain, id.TrustDomain())
	}
	if _, _, err := x509svid.Verify(certs, bundles, x509svid.WithTime(now)); err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: %v", ErrInvalidX509SVID, err)
	}
	return id, nil
}

// Authorizer returns a go-spiffe TLS authorizer that refuses a peer whose
// X509-SVID is revoked (see [CheckX509SVID]) and otherwise defers to next.
// A nil next accepts every SPIFFE ID; a nil revoked checks nothing. Use it
// with tlsconfig.MTLSServerConfig, MTLSClientConfig or spiffetls.
//
// The authorizer it returns fails with an error wrapping [ErrRevoked] for
// a revoked chain, or returns next's error.
func Authorizer(revoked RevocationChecker, next tlsconfig.Authorizer) tlsconfig.Authorizer {
	return func(id spiffeid.ID, verifiedChains [][]*x509.Certificate) error {
		if len(verifiedChains) == 0 || len(verifiedChains[0]) == 0 {
			return errors.New("authn: no verified chain")
		}
		if err := CheckX509SVID(revoked, id, verifiedChains[0][0]); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		return next(id, verifiedChains)
	}
}

// CheckX509SVID reports whether leaf, a verified X509-SVID of id, is
// revoked: by its serial number, or by its SPIFFE ID with a cut-off at or
// after the leaf's NotBefore. The serial is looked up in lower-case hex,
// both without leading zeros and as the bytes of its DER encoding (two
// spellings in use across Kith). It returns an error wrapping [ErrRevoked]
// for a revoked leaf and nil otherwise (always nil for a nil checker).
func CheckX509SVID(revoked RevocationChecker, id spiffeid.ID, leaf *x509.Certificate) error {
	if revoked == nil || leaf == nil {
		return nil
	}
	return serialNamesOf(leaf).check(revoked, id, leaf.NotBefore)
}

// serialNames are the two spellings of a certificate's serial number the
// revocation set may hold. [X509Verifier] keeps them with a verified
// chain, so that asking about the chain again allocates nothing.
type serialNames struct {
	text   string // lower-case hex without leading zeros
	padded string // hex of the DER bytes, when it differs from text
}

func serialNamesOf(leaf *x509.Certificate) serialNames {
	if leaf.SerialNumber == nil {
		return serialNames{}
	}
	s := serialNames{text: leaf.SerialNumber.Text(16)}
	if padded := hex.EncodeToString(leaf.SerialNumber.Bytes()); padded != s.text {
		s.padded = padded
	}
	return s
}

// check is [CheckX509SVID] for a leaf of id with serial s issued at
// issued.
func (s serialNames) check(revoked RevocationChecker, id spiffeid.ID, issued time.Time) error {
	if revoked == nil {
		return nil
	}
	if s.text != "" && revoked.IsRevoked("x509_serial", s.text, issued) {
		return fmt.Errorf("%w: certificate serial %s", ErrRevoked, s.text)
	}
	if s.padded != "" && revoked.IsRevoked("x509_serial", s.padded, issued) {
		return fmt.Errorf("%w: certificate serial %s", ErrRevoked, s.padded)
	}
	if !id.IsZero() && revoked.IsRevoked("spiffe_id", id.String(), issued) {
		return fmt.Errorf("%w: SPIFFE ID %s", ErrRevoked, id)
	}
	return nil
}
