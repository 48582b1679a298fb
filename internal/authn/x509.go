package authn

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
)

// ErrRevoked is returned (wrapped) for a credential the revocation set
// withdrew before its expiry.
var ErrRevoked = errors.New("authn: credential revoked")

// RevocationChecker answers whether a credential is revoked. kind is the
// wire name of the revocation kind ("jti", "client_id", "x509_serial",
// "spiffe_id"), value the credential's value of that kind, and issuedAt
// when the credential was issued: a revocation covers credentials issued at
// or before its cut-off. *revocation.Set and the agent's cache satisfy it.
// Implementations must be safe for concurrent use and fast: it is called on
// every handshake.
type RevocationChecker interface {
	IsRevoked(kind, value string, issuedAt time.Time) bool
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
	issued := leaf.NotBefore
	if s := leaf.SerialNumber; s != nil {
		text := s.Text(16)
		if revoked.IsRevoked("x509_serial", text, issued) {
			return fmt.Errorf("%w: certificate serial %s", ErrRevoked, text)
		}
		if padded := hex.EncodeToString(s.Bytes()); padded != text && revoked.IsRevoked("x509_serial", padded, issued) {
			return fmt.Errorf("%w: certificate serial %s", ErrRevoked, padded)
		}
	}
	if !id.IsZero() && revoked.IsRevoked("spiffe_id", id.String(), issued) {
		return fmt.Errorf("%w: SPIFFE ID %s", ErrRevoked, id)
	}
	return nil
}
