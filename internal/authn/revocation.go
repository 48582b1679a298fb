package authn

import (
	"errors"
	"time"
)

// ErrRevoked is returned (wrapped) for an X509-SVID or a JWT-SVID the
// revocation set withdrew before its expiry. A revoked access token is
// [ErrTokenRevoked].
var ErrRevoked = errors.New("authn: credential revoked")

// RevocationChecker answers whether a credential is revoked. kind is the
// wire name of the revocation kind ("jti", "client_id", "x509_serial",
// "spiffe_id"), value the credential's value of that kind, and issuedAt
// when the credential was issued: a revocation covers credentials issued at
// or before its cut-off. *revocation.Set and the agent's cache satisfy it.
// Implementations must be safe for concurrent use and fast: it is called on
// every handshake and every call.
type RevocationChecker interface {
	IsRevoked(kind, value string, issuedAt time.Time) bool
}
