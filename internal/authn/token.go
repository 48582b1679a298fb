package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Errors of [TokenVerifier] and [Presented]; test for them with
// errors.Is. Their texts are those of the SDK, which returns them as they
// are.
var (
	// ErrNoToken: the request carries no access token.
	ErrNoToken = errors.New("oauth: no access token")
	// ErrInvalidToken: the token is malformed, of another type, issuer or
	// audience, lacks a required claim, or its signature does not verify.
	ErrInvalidToken = errors.New("oauth: invalid access token")
	// ErrTokenExpired: the token is past its exp or not yet valid.
	ErrTokenExpired = errors.New("oauth: access token expired")
	// ErrTokenNotYetValid: the token was issued in the future. It wraps
	// ErrTokenExpired.
	ErrTokenNotYetValid = fmt.Errorf("%w: issued in the future", ErrTokenExpired)
	// ErrTokenRevoked: the revocation set revokes the token.
	ErrTokenRevoked = errors.New("oauth: access token revoked")
	// ErrBinding: the token is sender-constrained and the request does not
	// prove possession of its certificate or DPoP key.
	ErrBinding = errors.New("oauth: access token binding not proven")
)

// MaxTokenSize caps the length of an access token a [TokenVerifier]
// parses.
const MaxTokenSize = 16 << 10

// accessTokenType is the JWS typ of access tokens (RFC 9068 §2.1).
const accessTokenType = "at+jwt"

// tokenAlgorithms are the signature algorithms of access tokens: the
// token service signs with P-256 keys.
var tokenAlgorithms = []jose.SignatureAlgorithm{jose.ES256}

// TokenConfig configures a [TokenVerifier]. Zero values are documented
// defaults.
type TokenConfig struct {
	// Issuer is the token service's issuer identifier; the iss claim must
	// equal it. Required.
	Issuer string
	// Audience, if set, must be among the aud claim's values (a resource
	// server's own identifier); empty skips the check (the token service
	// itself, which introspects tokens for any audience).
	Audience string
	// Keys gives the token service's signing keys. Required.
	Keys KeySource
	// Revocations is consulted by [TokenVerifier.CheckRevocation] and
	// [TokenVerifier.Verify]; nil revokes nothing.
	Revocations RevocationChecker
	// ExpiryLeeway is the clock skew tolerated past exp; zero tolerates
	// none.
	ExpiryLeeway time.Duration
	// IssuedAtLeeway is the clock skew tolerated on an iat in the future;
	// zero tolerates none.
	IssuedAtLeeway time.Duration
	// DPoPWindow is how far a DPoP proof's iat may be from now, either
	// way, and how long its jti is remembered after its iat; zero accepts
	// only proofs of this very second.
	DPoPWindow time.Duration
	// Replay remembers the DPoP proofs seen; nil gives the verifier its
	// own, in memory, of up to a million proofs.
	Replay ReplayStore
	// MaxCacheEntries bounds the verified tokens remembered, so that a
	// token presented again skips its signature verification; zero turns
	// the cache off. Expiry, revocation and binding are checked on every
	// call regardless.
	MaxCacheEntries int
	// CacheTTL bounds how long a verified token is remembered; zero
	// remembers it until it expires (never past that in any case).
	CacheTTL time.Duration
	// KeyPublished, if set, is asked on every cache hit whether the key
	// that signed the token is still published; a token whose key is not
	// is verified again (and refused). Nil trusts a remembered token until
	// CacheTTL.
	KeyPublished func(kid string) bool
}

// TokenVerifier verifies the JWT access tokens of Kith's token service
// (RFC 9068) and their binding (RFC 8705, RFC 9449). It is safe for
// concurrent use.
type TokenVerifier struct {
	cfg   TokenConfig
	cache *verifiedCache[string, verifiedToken] // nil when off
}

// verifiedToken is a remembered token verification.
type verifiedToken struct {
	claims *Claims
	kid    string
}

// NewTokenVerifier returns a TokenVerifier for cfg. It returns an error if
// Issuer or Keys is missing.
func NewTokenVerifier(cfg TokenConfig) (*TokenVerifier, error) {
	if cfg.Issuer == "" || cfg.Keys == nil {
		return nil, errors.New("authn: TokenConfig needs Issuer and Keys")
	}
	if cfg.Replay == nil {
		cfg.Replay = newMemoryReplay(maxReplayKeys)
	}
	v := &TokenVerifier{cfg: cfg}
	if cfg.MaxCacheEntries > 0 {
		v.cache = newVerifiedCache[string, verifiedToken](cfg.MaxCacheEntries)
	}
	return v, nil
}

// Verify checks token as presented by p at now: [TokenVerifier.Parse],
// [TokenVerifier.CheckRevocation] and [TokenVerifier.CheckBinding]. It
// returns their errors.
func (v *TokenVerifier) Verify(ctx context.Context, token string, p Presentation, now time.Time) (*Claims, error) {
	c, err := v.Parse(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if err := v.CheckRevocation(c); err != nil {
		return nil, err
	}
	if err := v.CheckBinding(c, token, p, now); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse verifies token and returns its claims: its ES256 signature by a
// key of Keys (found by the kid header), the typ header (at+jwt or application/at+jwt), the
// issuer, the audience if one is configured, the presence of jti, sub,
// client_id and exp, a delegation chain of at most [MaxActors], and its
// lifetime at now (exp and iat, with the configured leeways). It neither
// consults the revocation set nor checks the binding. A token verified
// before is not verified again while it is remembered (see
// [TokenConfig.MaxCacheEntries]); its lifetime is checked every time. The
// claims may be shared: callers must not modify them.
//
// It returns an error wrapping [ErrInvalidToken], [ErrTokenExpired] (and
// [ErrTokenNotYetValid]), the [ErrUnknownKey] of Keys, or the error of
// reading the keys.
func (v *TokenVerifier) Parse(ctx context.Context, token string, now time.Time) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenSize)
	}
	if v.cache != nil {
		if t, ok := v.cache.get(token, now); ok && (v.cfg.KeyPublished == nil || v.cfg.KeyPublished(t.kid)) {
			return t.claims, v.checkTimes(t.claims, now)
		}
	}
	c, kid, err := v.verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := v.checkTimes(c, now); err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(token, verifiedToken{claims: c, kid: kid}, cacheUntil(now, v.cfg.CacheTTL, c.Expiry), now)
	}
	return c, nil
}

// isAccessTokenType reports whether typ names an access token: "at+jwt"
// or "application/at+jwt", as RFC 9068 §4 asks resource servers to
// accept, compared as media types are (without regard to case).
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, accessTokenType) || strings.EqualFold(typ, "application/"+accessTokenType)
}

// verify checks the signature and the claims of token, not its lifetime,
// and returns its claims and the key ID that signed it.
func (v *TokenVerifier) verify(ctx context.Context, token string) (*Claims, string, error) {
	jws, err := jose.ParseSignedCompact(token, tokenAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", fmt.Errorf("%w: not an ES256 JWS", ErrInvalidToken)
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !isAccessTokenType(typ) {
		return nil, "", fmt.Errorf("%w: typ %q is not %s", ErrInvalidToken, clip(typ), accessTokenType)
	}
	key, err := v.cfg.Keys.Key(ctx, h.KeyID)
	if err != nil {
		return nil, "", err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, "", fmt.Errorf("%w: signature does not verify", ErrInvalidToken)
	}
	var raw rawClaims
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, "", fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	c, err := raw.claims()
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	switch {
	case c.Issuer != v.cfg.Issuer:
		return nil, "", fmt.Errorf("%w: issuer %q", ErrInvalidToken, clip(c.Issuer))
	case v.cfg.Audience != "" && !slices.Contains(c.Audience, v.cfg.Audience):
		return nil, "", fmt.Errorf("%w: not issued for %s", ErrInvalidToken, v.cfg.Audience)
	case c.ID == "" || c.Subject == "" || c.ClientID == "" || c.Expiry.IsZero():
		return nil, "", fmt.Errorf("%w: missing jti, sub, client_id or exp", ErrInvalidToken)
	}
	return c, h.KeyID, nil
}

// checkTimes checks that c is neither expired nor issued in the future at
// now.
func (v *TokenVerifier) checkTimes(c *Claims, now time.Time) error {
	switch {
	case !now.Before(c.Expiry.Add(v.cfg.ExpiryLeeway)):
		return ErrTokenExpired
	case now.Add(v.cfg.IssuedAtLeeway).Before(c.IssuedAt):
		return ErrTokenNotYetValid
	}
	return nil
}

// CheckRevocation asks the revocation set about the token whose claims are
// c: its jti, its client, its subject and every actor of its delegation
// chain, as issued at its iat. It returns an error wrapping
// [ErrTokenRevoked] for a revoked token, and nil otherwise (always nil
// without a revocation set).
func (v *TokenVerifier) CheckRevocation(c *Claims) error {
	rv := v.cfg.Revocations
	if rv == nil {
		return nil
	}
	switch iat := c.IssuedAt; {
	case rv.IsRevoked("jti", c.ID, iat):
		return fmt.Errorf("%w: token %s", ErrTokenRevoked, clip(c.ID))
	case rv.IsRevoked("client_id", c.ClientID, iat):
		return fmt.Errorf("%w: client %s", ErrTokenRevoked, clip(c.ClientID))
	case rv.IsRevoked("spiffe_id", c.Subject, iat):
		return fmt.Errorf("%w: subject %s", ErrTokenRevoked, clip(c.Subject))
	}
	for a := c.Actor; a != nil; a = a.Actor {
		if rv.IsRevoked("spiffe_id", a.Subject, c.IssuedAt) || (a.ClientID != "" && rv.IsRevoked("client_id", a.ClientID, c.IssuedAt)) {
			return fmt.Errorf("%w: actor %s", ErrTokenRevoked, clip(a.Subject))
		}
	}
	return nil
}
