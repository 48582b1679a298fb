package ca

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// maxAudiences caps the audience of one JWT-SVID.
const maxAudiences = 32

// reservedClaims are set by MintJWTSVID and may not come from JWTParams.Claims.
var reservedClaims = [...]string{"sub", "aud", "exp", "iat", "nbf", "iss"}

// JWTParams asks for a JWT-SVID.
type JWTParams struct {
	// SPIFFEID is the subject: a workload ID in the CA's trust domain.
	SPIFFEID spiffeid.ID
	// Audience lists the intended recipients; at least one is required.
	Audience []string
	// TTL is the lifetime asked for; 0 means Config.JWTSVIDTTL. The token
	// never outlives the key that signs it.
	TTL time.Duration
	// Claims are extra claims. They may not set sub, aud, exp, iat, nbf
	// or iss, and must encode as JSON.
	Claims map[string]any
}

// MintJWTSVID signs a JWT-SVID for p.SPIFFEID with the active slot's ES256
// key. The header carries the key ID ("kid") and typ "JWT"; the claims are
// sub, aud, iat and exp, iss when Config.JWTIssuer is set (as SPIRE does
// with its jwt_issuer), plus p.Claims. exp is the earlier of now+TTL and
// the key's NotAfter.
//
// It returns an error wrapping [ErrInvalidSPIFFEID] if the ID is not a
// workload ID of the trust domain, [ErrInvalidParams] for an empty audience,
// a negative TTL or a reserved or unencodable extra claim, and
// [ErrUnavailable] if the active key has expired.
func (c *CA) MintJWTSVID(ctx context.Context, p JWTParams) (token string, expiresAt time.Time, err error) {
	if err := c.checkID(p.SPIFFEID); err != nil {
		return "", time.Time{}, err
	}
	ttl, err := ttlOrDefault(p.TTL, c.cfg.JWTSVIDTTL)
	if err != nil {
		return "", time.Time{}, err
	}
	if err := checkAudience(p.Audience); err != nil {
		return "", time.Time{}, err
	}
	claims := make(map[string]any, len(p.Claims)+4)
	for k, v := range p.Claims {
		if slices.Contains(reservedClaims[:], k) {
			return "", time.Time{}, fmt.Errorf("%w: claim %q is reserved", ErrInvalidParams, k)
		}
		claims[k] = v
	}
	if _, err := json.Marshal(p.Claims); err != nil {
		return "", time.Time{}, fmt.Errorf("%w: extra claims: %v", ErrInvalidParams, err)
	}
	s := c.cur.Load().active
	if s == nil {
		return "", time.Time{}, fmt.Errorf("%w: %w", ErrUnavailable, errNoActive)
	}
	now := c.cfg.Clock()
	exp := earliest(now.Add(ttl), s.notAfter()).Truncate(time.Second)
	if !exp.After(now) {
		return "", time.Time{}, fmt.Errorf("%w: active key %s expired at %v", ErrUnavailable, s.id, s.notAfter())
	}
	if c.cfg.JWTIssuer != "" {
		claims["iss"] = c.cfg.JWTIssuer
	}
	claims["sub"] = p.SPIFFEID.String()
	claims["aud"] = jwt.Audience(p.Audience)
	claims["iat"] = jwt.NewNumericDate(now)
	claims["exp"] = jwt.NewNumericDate(exp)
	token, err = jwt.Signed(s.jwtSigner).Claims(claims).Serialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("ca: sign JWT-SVID: %w", err)
	}
	return token, exp, nil
}

func checkAudience(aud []string) error {
	if len(aud) == 0 || len(aud) > maxAudiences {
		return fmt.Errorf("%w: audience needs 1 to %d entries, got %d", ErrInvalidParams, maxAudiences, len(aud))
	}
	for _, a := range aud {
		if a == "" {
			return fmt.Errorf("%w: empty audience entry", ErrInvalidParams)
		}
	}
	return nil
}
