package authn

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// ErrInvalidJWTSVID is returned (wrapped) for a JWT-SVID that is malformed,
// signed by no authority of its trust domain's bundle, expired, not yet
// valid or not meant for the audience.
var ErrInvalidJWTSVID = errors.New("authn: invalid JWT-SVID")

// MaxJWTSVIDSize caps the length of a JWT-SVID ValidateJWTSVID parses.
const MaxJWTSVIDSize = 16 << 10

// jwtAlgorithms are the signature algorithms a JWT-SVID may use, as in the
// JWT-SVID specification (and go-spiffe).
var jwtAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512,
}

// JWTSVID is a verified JWT-SVID.
type JWTSVID struct {
	// ID is the subject.
	ID spiffeid.ID
	// Audience is the token's audience.
	Audience []string
	// IssuedAt is the iat claim; zero when absent.
	IssuedAt time.Time
	// Expiry is the exp claim.
	Expiry time.Time
	// Claims are all the claims of the token.
	Claims map[string]any
}

// ValidateJWTSVID verifies token as a JWT-SVID for audience at time now: the
// signature against the JWT authority of the subject's trust domain in
// bundles (found by the "kid" header), the typ header (absent, "JWT" or
// "JOSE"), exp and nbf (with one minute of leeway) and the audience. Then it
// consults revoked (nil skips it): the token is refused if its jti, or its
// subject with a cut-off at or after its iat, is revoked.
//
// It returns an error wrapping [ErrInvalidJWTSVID] for a token that does
// not verify, or [ErrRevoked] for a revoked one.
func ValidateJWTSVID(token, audience string, bundles jwtbundle.Source, revoked RevocationChecker, now time.Time) (*JWTSVID, error) {
	if len(token) > MaxJWTSVIDSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidJWTSVID, MaxJWTSVIDSize)
	}
	tok, err := jwt.ParseSigned(token, jwtAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJWTSVID, err)
	}
	if len(tok.Headers) != 1 {
		return nil, fmt.Errorf("%w: want one signature", ErrInvalidJWTSVID)
	}
	h := tok.Headers[0]
	if typ, ok := h.ExtraHeaders[jose.HeaderType]; ok && typ != "JWT" && typ != "JOSE" {
		return nil, fmt.Errorf("%w: header typ %v", ErrInvalidJWTSVID, typ)
	}
	if h.KeyID == "" {
		return nil, fmt.Errorf("%w: header has no key ID", ErrInvalidJWTSVID)
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalidJWTSVID, err)
	}
	id, err := spiffeid.FromString(unverified.Subject)
	if err != nil {
		return nil, fmt.Errorf("%w: subject: %v", ErrInvalidJWTSVID, err)
	}
	b, err := bundles.GetJWTBundleForTrustDomain(id.TrustDomain())
	if err != nil {
		return nil, fmt.Errorf("%w: no bundle for trust domain %q", ErrInvalidJWTSVID, id.TrustDomain())
	}
	key, ok := b.FindJWTAuthority(h.KeyID)
	if !ok {
		return nil, fmt.Errorf("%w: no JWT authority %q in the bundle of %q", ErrInvalidJWTSVID, h.KeyID, id.TrustDomain())
	}
	var claims jwt.Claims
	all := map[string]any{}
	if err := tok.Claims(key, &claims, &all); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrInvalidJWTSVID, err)
	}
	if claims.Expiry == nil {
		return nil, fmt.Errorf("%w: no exp claim", ErrInvalidJWTSVID)
	}
	if err := claims.Validate(jwt.Expected{AnyAudience: jwt.Audience{audience}, Time: now}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJWTSVID, err)
	}
	out := &JWTSVID{ID: id, Audience: claims.Audience, Expiry: claims.Expiry.Time().UTC(), Claims: all}
	if claims.IssuedAt != nil {
		out.IssuedAt = claims.IssuedAt.Time().UTC()
	}
	if err := CheckJWTSVID(revoked, out.ID, claims.ID, out.IssuedAt); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckJWTSVID reports whether a JWT-SVID of id with the given jti (empty
// when it has none) issued at issuedAt is revoked. A zero issuedAt (a token
// without iat) counts as issued before any cut-off. It returns an error
// wrapping [ErrRevoked] for a revoked token and nil otherwise (always nil
// for a nil checker).
func CheckJWTSVID(revoked RevocationChecker, id spiffeid.ID, jti string, issuedAt time.Time) error {
	if revoked == nil {
		return nil
	}
	if jti != "" && revoked.IsRevoked("jti", jti, issuedAt) {
		return fmt.Errorf("%w: token %s", ErrRevoked, jti)
	}
	if revoked.IsRevoked("spiffe_id", id.String(), issuedAt) {
		return fmt.Errorf("%w: SPIFFE ID %s", ErrRevoked, id)
	}
	return nil
}
