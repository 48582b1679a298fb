package authn

import (
	"errors"
	"fmt"
	"slices"
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

// jwtLeeway is the clock skew tolerated on a JWT-SVID's exp, nbf and iat.
const jwtLeeway = time.Minute

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
	// JTI is the jti claim; empty when absent.
	JTI string
	// Claims are all the claims of the token; nil when [VerifyJWTSVID]
	// was not asked for them.
	Claims map[string]any
}

// ValidateJWTSVID verifies token as a JWT-SVID for audience at time now, as
// [VerifyJWTSVID] does, and returns it with all its claims.
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
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalidJWTSVID, err)
	}
	id, err := spiffeid.FromString(unverified.Subject)
	if err != nil {
		return nil, fmt.Errorf("%w: subject: %v", ErrInvalidJWTSVID, err)
	}
	return VerifyJWTSVID(tok, id, func(a string) bool { return a == audience }, bundles, revoked, now, true)
}

// VerifyJWTSVID verifies tok, a JWT-SVID parsed by go-jose, whose subject
// the caller read from its unverified claims as id, for an audience
// accepts at time now: one signature with an algorithm of the JWT-SVID
// specification, by the JWT authority of id's trust domain in bundles
// (found by the "kid" header); the typ header (absent, "JWT" or "JOSE");
// the subject; exp (required) and nbf and iat, with one minute of leeway;
// and an aud value accepts. Then it consults revoked (nil skips it, see
// [CheckJWTSVID]). With allClaims, JWTSVID.Claims holds every claim of
// the token.
//
// It returns an error wrapping [ErrInvalidJWTSVID] for a token that does
// not verify, or [ErrRevoked] for a revoked one.
func VerifyJWTSVID(tok *jwt.JSONWebToken, id spiffeid.ID, accepts func(aud string) bool, bundles jwtbundle.Source, revoked RevocationChecker, now time.Time, allClaims bool) (*JWTSVID, error) {
	if len(tok.Headers) != 1 {
		return nil, fmt.Errorf("%w: want one signature", ErrInvalidJWTSVID)
	}
	h := tok.Headers[0]
	if !slices.Contains(jwtAlgorithms, jose.SignatureAlgorithm(h.Algorithm)) {
		return nil, fmt.Errorf("%w: algorithm %q", ErrInvalidJWTSVID, clip(h.Algorithm))
	}
	if typ, ok := h.ExtraHeaders[jose.HeaderType]; ok && typ != "JWT" && typ != "JOSE" {
		return nil, fmt.Errorf("%w: header typ %v", ErrInvalidJWTSVID, typ)
	}
	if h.KeyID == "" {
		return nil, fmt.Errorf("%w: header has no key ID", ErrInvalidJWTSVID)
	}
	b, err := bundles.GetJWTBundleForTrustDomain(id.TrustDomain())
	if err != nil {
		return nil, fmt.Errorf("%w: no bundle for trust domain %q", ErrInvalidJWTSVID, id.TrustDomain())
	}
	key, ok := b.FindJWTAuthority(h.KeyID)
	if !ok {
		return nil, fmt.Errorf("%w: no JWT authority %q in the bundle of %q", ErrInvalidJWTSVID, clip(h.KeyID), id.TrustDomain())
	}
	var std jwt.Claims
	var all map[string]any
	if allClaims {
		all = map[string]any{}
		err = tok.Claims(key, &std, &all)
	} else {
		err = tok.Claims(key, &std)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrInvalidJWTSVID, err)
	}
	if err := checkJWTSVIDClaims(&std, id, accepts, now); err != nil {
		return nil, err
	}
	out := &JWTSVID{ID: id, Audience: std.Audience, Expiry: std.Expiry.Time().UTC(), JTI: std.ID, Claims: all}
	if std.IssuedAt != nil {
		out.IssuedAt = std.IssuedAt.Time().UTC()
	}
	if err := CheckJWTSVID(revoked, out.ID, out.JTI, out.IssuedAt); err != nil {
		return nil, err
	}
	return out, nil
}

// checkJWTSVIDClaims checks the verified claims c of a JWT-SVID of id.
func checkJWTSVIDClaims(c *jwt.Claims, id spiffeid.ID, accepts func(string) bool, now time.Time) error {
	switch {
	case c.Subject != id.String():
		return fmt.Errorf("%w: subject is not %s", ErrInvalidJWTSVID, id)
	case c.Expiry == nil:
		return fmt.Errorf("%w: no exp claim", ErrInvalidJWTSVID)
	case !slices.ContainsFunc(c.Audience, accepts):
		return fmt.Errorf("%w: not issued for this audience", ErrInvalidJWTSVID)
	case !now.Before(c.Expiry.Time().Add(jwtLeeway)):
		return fmt.Errorf("%w: expired", ErrInvalidJWTSVID)
	case c.NotBefore != nil && now.Add(jwtLeeway).Before(c.NotBefore.Time()):
		return fmt.Errorf("%w: not yet valid", ErrInvalidJWTSVID)
	case c.IssuedAt != nil && now.Add(jwtLeeway).Before(c.IssuedAt.Time()):
		return fmt.Errorf("%w: issued in the future", ErrInvalidJWTSVID)
	}
	return nil
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
