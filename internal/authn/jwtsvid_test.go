package authn_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/revocation"
)

func TestValidateJWTSVID(t *testing.T) {
	c := newCA(t)
	id := spiffeid.RequireFromPath(td, "/web")
	tok, exp, err := c.MintJWTSVID(t.Context(), ca.JWTParams{SPIFFEID: id, Audience: []string{"api"}, Claims: map[string]any{"jti": "t-1"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	bundles := jwtbundle.NewSet(c.Bundle().JWTBundle())
	foreign := jwtbundle.NewSet(newCA(t).Bundle().JWTBundle())
	revokedAt := func(k revocation.Kind, v string, at time.Time) *revocation.Set {
		s := newSet(t)
		s.Apply(revocation.Entry{Kind: k, Value: v, RevokedAt: at, Revision: 1})
		return s
	}
	tests := []struct {
		name     string
		token    string
		audience string
		bundles  jwtbundle.Source
		revoked  authn.RevocationChecker
		at       time.Time
		want     error
	}{
		{"valid", tok, "api", bundles, newSet(t), now, nil},
		{"valid without revocation set", tok, "api", bundles, nil, now, nil},
		{"wrong audience", tok, "other", bundles, nil, now, authn.ErrInvalidJWTSVID},
		{"expired", tok, "api", bundles, nil, exp.Add(2 * time.Minute), authn.ErrInvalidJWTSVID},
		{"unknown key", tok, "api", foreign, nil, now, authn.ErrInvalidJWTSVID},
		{"garbage", "not.a.jwt", "api", bundles, nil, now, authn.ErrInvalidJWTSVID},
		{"oversized", strings.Repeat("a", authn.MaxJWTSVIDSize+1), "api", bundles, nil, now, authn.ErrInvalidJWTSVID},
		{"tampered", tok[:len(tok)-4] + "AAAA", "api", bundles, nil, now, authn.ErrInvalidJWTSVID},
		{"subject revoked after issue", tok, "api", bundles, revokedAt(revocation.KindSPIFFEID, id.String(), now.Add(time.Second)), now, authn.ErrRevoked},
		{"subject revoked before issue", tok, "api", bundles, revokedAt(revocation.KindSPIFFEID, id.String(), now.Add(-time.Hour)), now, nil},
		{"jti revoked", tok, "api", bundles, revokedAt(revocation.KindJTI, "t-1", now.Add(time.Second)), now, authn.ErrRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := authn.ValidateJWTSVID(tt.token, tt.audience, tt.bundles, tt.revoked, tt.at)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("ValidateJWTSVID = %v, want %v", err, tt.want)
			}
			if err == nil && (got.ID != id || got.Claims["jti"] != "t-1" || got.IssuedAt.IsZero()) {
				t.Errorf("ValidateJWTSVID = %+v, want subject %s with its claims", got, id)
			}
		})
	}
}

func TestVerifyJWTSVID(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bundles := jwtbundle.NewSet(jwtbundle.FromJWTAuthorities(td, map[string]crypto.PublicKey{"ec": ec.Public(), "ed": ed.Public()}))
	id := spiffeid.RequireFromPath(td, "/web")
	now := time.Unix(1_900_000_000, 0)
	sign := func(alg jose.SignatureAlgorithm, key any, kid, typ string, mutate map[string]any) string {
		c := map[string]any{"sub": id.String(), "aud": []string{"https://kith.test"}, "exp": now.Add(5 * time.Minute).Unix(),
			"iat": now.Unix(), "jti": "j-1"}
		for k, v := range mutate {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
		if typ != "" {
			opts = opts.WithType(jose.ContentType(typ))
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
		if err != nil {
			t.Fatal(err)
		}
		out, err := jwt.Signed(s).Claims(c).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	accepts := func(aud string) bool { return aud == "https://kith.test" || aud == "https://kith.test/oauth2/token" }
	tests := []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{"valid", sign(jose.ES256, ec, "ec", "JWT", nil), now, nil},
		{"one accepted audience among others", sign(jose.ES256, ec, "ec", "", map[string]any{"aud": []string{"x", "https://kith.test/oauth2/token"}}), now, nil},
		{"no accepted audience", sign(jose.ES256, ec, "ec", "", map[string]any{"aud": "https://kith.test/other"}), now, authn.ErrInvalidJWTSVID},
		{"EdDSA, not a JWT-SVID algorithm", sign(jose.EdDSA, ed, "ed", "", nil), now, authn.ErrInvalidJWTSVID},
		{"typ at+jwt", sign(jose.ES256, ec, "ec", "at+jwt", nil), now, authn.ErrInvalidJWTSVID},
		{"no kid", sign(jose.ES256, ec, "", "", nil), now, authn.ErrInvalidJWTSVID},
		{"another subject", sign(jose.ES256, ec, "ec", "", map[string]any{"sub": "spiffe://example.org/other"}), now, authn.ErrInvalidJWTSVID},
		{"no exp", sign(jose.ES256, ec, "ec", "", map[string]any{"exp": nil}), now, authn.ErrInvalidJWTSVID},
		{"expired, within leeway", sign(jose.ES256, ec, "ec", "", nil), now.Add(5*time.Minute + 59*time.Second), nil},
		{"expired", sign(jose.ES256, ec, "ec", "", nil), now.Add(6 * time.Minute), authn.ErrInvalidJWTSVID},
		{"not yet valid", sign(jose.ES256, ec, "ec", "", map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}), now, authn.ErrInvalidJWTSVID},
		{"issued in the future", sign(jose.ES256, ec, "ec", "", map[string]any{"iat": now.Add(2 * time.Minute).Unix()}), now, authn.ErrInvalidJWTSVID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := jwt.ParseSigned(tt.token, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
			if err != nil {
				t.Fatal(err)
			}
			got, err := authn.VerifyJWTSVID(tok, id, accepts, bundles, nil, tt.at, false)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifyJWTSVID = %v, want %v", err, tt.want)
			}
			if err == nil && (got.ID != id || got.JTI != "j-1" || !got.IssuedAt.Equal(now) || got.Claims != nil) {
				t.Errorf("VerifyJWTSVID = %+v", got)
			}
		})
	}
}
