package authn_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/revocation"
)

const issuer = "https://kith.test"

var t0 = time.Unix(1_900_000_000, 0)

// tokenKey signs the access tokens of the tests.
type tokenKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

func newTokenKey(t testing.TB, kid string) tokenKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return tokenKey{priv: k, kid: kid}
}

func (k tokenKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: "ES256", Use: "sig"}
}

// claims returns the claims of a good token issued at t0 for
// spiffe://example.org/api, changed by the mutations (a nil value deletes).
func claims(mutate map[string]any) map[string]any {
	c := map[string]any{"iss": issuer, "sub": "spiffe://example.org/orders", "aud": "spiffe://example.org/api",
		"exp": t0.Add(5 * time.Minute).Unix(), "iat": t0.Unix(), "jti": "jti-1", "client_id": "ci_orders", "scope": "read write"}
	for k, v := range mutate {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign returns claims signed by k with the given typ header.
func (k tokenKey) sign(t testing.TB, typ string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", k.kid))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// countingKeys counts the key lookups, one per signature verified.
type countingKeys struct {
	authn.KeySource
	n atomic.Int64
}

func (k *countingKeys) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	k.n.Add(1)
	return k.KeySource.Key(ctx, kid)
}

func newTokenVerifier(t testing.TB, keys authn.KeySource, mutate func(*authn.TokenConfig)) *authn.TokenVerifier {
	t.Helper()
	cfg := authn.TokenConfig{Issuer: issuer, Audience: "spiffe://example.org/api", Keys: keys,
		ExpiryLeeway: time.Minute, IssuedAtLeeway: time.Minute, DPoPWindow: time.Minute}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := authn.NewTokenVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTokenVerifierParse(t *testing.T) {
	k := newTokenKey(t, "k1")
	other := newTokenKey(t, "k1") // same kid, another key
	keys := authn.StaticKeys{Keys: []jose.JSONWebKey{k.jwk()}}
	actors := func(n int) map[string]any {
		act := map[string]any{"sub": "spiffe://example.org/a"}
		for range n - 1 {
			act = map[string]any{"sub": "spiffe://example.org/a", "act": act}
		}
		return act
	}
	tests := []struct {
		name     string
		token    string
		audience string // "" checks none
		at       time.Time
		want     error
	}{
		{name: "valid", token: k.sign(t, "at+jwt", claims(nil)), at: t0},
		{name: "audience in an array", token: k.sign(t, "at+jwt", claims(map[string]any{"aud": []string{"x", "spiffe://example.org/api"}})), at: t0},
		{name: "any audience when none is configured", token: k.sign(t, "at+jwt", claims(map[string]any{"aud": "other"})), audience: "-", at: t0},
		{name: "another audience", token: k.sign(t, "at+jwt", claims(map[string]any{"aud": "other"})), at: t0, want: authn.ErrInvalidToken},
		{name: "malformed audience", token: k.sign(t, "at+jwt", claims(map[string]any{"aud": 5})), audience: "-", at: t0, want: authn.ErrInvalidToken},
		{name: "typ JWT", token: k.sign(t, "JWT", claims(nil)), at: t0, want: authn.ErrInvalidToken},
		{name: "typ in capitals (media types ignore case)", token: k.sign(t, "AT+JWT", claims(nil)), at: t0},
		{name: "typ as a full media type (RFC 9068 §4)", token: k.sign(t, "application/at+jwt", claims(nil)), at: t0},
		{name: "typ of another media type", token: k.sign(t, "application/jwt", claims(nil)), at: t0, want: authn.ErrInvalidToken},
		{name: "another issuer", token: k.sign(t, "at+jwt", claims(map[string]any{"iss": "https://evil.example"})), at: t0, want: authn.ErrInvalidToken},
		{name: "no jti", token: k.sign(t, "at+jwt", claims(map[string]any{"jti": nil})), at: t0, want: authn.ErrInvalidToken},
		{name: "no sub", token: k.sign(t, "at+jwt", claims(map[string]any{"sub": nil})), at: t0, want: authn.ErrInvalidToken},
		{name: "no client_id", token: k.sign(t, "at+jwt", claims(map[string]any{"client_id": nil})), at: t0, want: authn.ErrInvalidToken},
		{name: "no exp", token: k.sign(t, "at+jwt", claims(map[string]any{"exp": nil})), at: t0, want: authn.ErrInvalidToken},
		{name: "16 actors", token: k.sign(t, "at+jwt", claims(map[string]any{"act": actors(16)})), at: t0},
		{name: "17 actors", token: k.sign(t, "at+jwt", claims(map[string]any{"act": actors(17)})), at: t0, want: authn.ErrInvalidToken},
		{name: "re-signed", token: other.sign(t, "at+jwt", claims(nil)), at: t0, want: authn.ErrInvalidToken},
		{name: "unknown key", token: newTokenKey(t, "k2").sign(t, "at+jwt", claims(nil)), at: t0, want: authn.ErrUnknownKey},
		{name: "garbage", token: "e30.e30.e30", at: t0, want: authn.ErrInvalidToken},
		{name: "too long", token: strings.Repeat("a", authn.MaxTokenSize+1), at: t0, want: authn.ErrInvalidToken},
		{name: "expired, within leeway", token: k.sign(t, "at+jwt", claims(nil)), at: t0.Add(5*time.Minute + 59*time.Second)},
		{name: "expired", token: k.sign(t, "at+jwt", claims(nil)), at: t0.Add(6 * time.Minute), want: authn.ErrTokenExpired},
		{name: "issued in the future, within leeway", token: k.sign(t, "at+jwt", claims(nil)), at: t0.Add(-time.Minute)},
		{name: "issued in the future", token: k.sign(t, "at+jwt", claims(nil)), at: t0.Add(-61 * time.Second), want: authn.ErrTokenNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTokenVerifier(t, keys, func(c *authn.TokenConfig) {
				if tt.audience == "-" {
					c.Audience = ""
				}
			})
			c, err := v.Parse(t.Context(), tt.token, tt.at)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
			if err == nil && (c.Subject != "spiffe://example.org/orders" || c.ClientID != "ci_orders" || c.ID != "jti-1" ||
				!c.HasScope("write") || !c.IssuedAt.Equal(t0) || !c.Expiry.Equal(t0.Add(5*time.Minute))) {
				t.Errorf("Parse = %+v", c)
			}
		})
	}
	t.Run("not yet valid is expired", func(t *testing.T) {
		if !errors.Is(authn.ErrTokenNotYetValid, authn.ErrTokenExpired) {
			t.Error("ErrTokenNotYetValid does not wrap ErrTokenExpired")
		}
	})
}

func TestTokenVerifierClaims(t *testing.T) {
	k := newTokenKey(t, "k1")
	v := newTokenVerifier(t, authn.StaticKeys{Keys: []jose.JSONWebKey{k.jwk()}}, nil)
	tok := k.sign(t, "at+jwt", claims(map[string]any{"acr": "urn:kith:acr:svid",
		"cnf": map[string]string{"x5t#S256": "x5t", "jkt": "jkt"},
		"act": map[string]any{"sub": "spiffe://example.org/a", "client_id": "ci_a", "act": map[string]any{"sub": "spiffe://example.org/b"}}}))
	c, err := v.Parse(t.Context(), tok, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := &authn.Claims{Issuer: issuer, Subject: "spiffe://example.org/orders", Audience: []string{"spiffe://example.org/api"},
		Expiry: t0.Add(5 * time.Minute), IssuedAt: t0, ID: "jti-1", ClientID: "ci_orders", Scopes: []string{"read", "write"},
		ACR: "urn:kith:acr:svid", CertThumbprint: "x5t", DPoPThumbprint: "jkt",
		Actor: &authn.Actor{Subject: "spiffe://example.org/a", ClientID: "ci_a", Actor: &authn.Actor{Subject: "spiffe://example.org/b"}}}
	if got, _ := json.Marshal(c); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("claims\n%s\nwant\n%s", got, must(json.Marshal(want)))
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestTokenVerifierCache checks that a token verified once is taken from
// the cache until CacheTTL or its key is no longer published, and that
// its lifetime bites on a cached token.
func TestTokenVerifierCache(t *testing.T) {
	k := newTokenKey(t, "k1")
	tok := k.sign(t, "at+jwt", claims(nil))
	var published atomic.Bool
	published.Store(true)
	keys := &countingKeys{KeySource: authn.StaticKeys{Keys: []jose.JSONWebKey{k.jwk()}}}
	v := newTokenVerifier(t, keys, func(c *authn.TokenConfig) {
		c.MaxCacheEntries, c.CacheTTL = 10, time.Minute
		c.KeyPublished = func(kid string) bool { return kid == "k1" && published.Load() }
	})
	parse := func(at time.Time, want error, verified int64) {
		t.Helper()
		if _, err := v.Parse(t.Context(), tok, at); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("Parse at %v = %v, want %v", at.Sub(t0), err, want)
		}
		if n := keys.n.Load(); n != verified {
			t.Fatalf("at %v: verified %d times, want %d", at.Sub(t0), n, verified)
		}
	}
	parse(t0, nil, 1)
	parse(t0.Add(30*time.Second), nil, 1)
	parse(t0.Add(time.Minute), nil, 2) // past CacheTTL: verified again, and remembered anew
	parse(t0.Add(90*time.Second), nil, 2)
	published.Store(false)
	parse(t0.Add(100*time.Second), nil, 3) // the key is gone: verified again (StaticKeys still has it)
	published.Store(true)
	parse(t0.Add(110*time.Second), nil, 3)
	parse(t0.Add(7*time.Minute), authn.ErrTokenExpired, 4)

	off := newTokenVerifier(t, keys, nil)
	for range 2 {
		if _, err := off.Parse(t.Context(), tok, t0); err != nil {
			t.Fatal(err)
		}
	}
	if n := keys.n.Load(); n != 6 {
		t.Errorf("without a cache: verified %d times in all, want 6", n)
	}
}

func TestTokenVerifierRevocation(t *testing.T) {
	k := newTokenKey(t, "k1")
	keys := authn.StaticKeys{Keys: []jose.JSONWebKey{k.jwk()}}
	tok := k.sign(t, "at+jwt", claims(map[string]any{"act": map[string]any{"sub": "spiffe://example.org/a", "client_id": "ci_a",
		"act": map[string]any{"sub": "spiffe://example.org/b"}}}))
	tests := []struct {
		name    string
		kind    revocation.Kind
		value   string
		at      time.Time
		revoked bool
	}{
		{"jti", revocation.KindJTI, "jti-1", t0, true},
		{"client", revocation.KindClientID, "ci_orders", t0, true},
		{"subject", revocation.KindSPIFFEID, "spiffe://example.org/orders", t0, true},
		{"first actor", revocation.KindSPIFFEID, "spiffe://example.org/a", t0, true},
		{"first actor's client", revocation.KindClientID, "ci_a", t0, true},
		{"second actor", revocation.KindSPIFFEID, "spiffe://example.org/b", t0, true},
		{"subject, before issuance", revocation.KindSPIFFEID, "spiffe://example.org/orders", t0.Add(-time.Second), false},
		{"another client", revocation.KindClientID, "ci_other", t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := newSet(t)
			set.Apply(revocation.Entry{Kind: tt.kind, Value: tt.value, RevokedAt: tt.at, Revision: 1})
			v := newTokenVerifier(t, keys, func(c *authn.TokenConfig) { c.Revocations = set })
			c, err := v.Parse(t.Context(), tok, t0)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.CheckRevocation(c); errors.Is(err, authn.ErrTokenRevoked) != tt.revoked || (err != nil) != tt.revoked {
				t.Errorf("CheckRevocation = %v, want revoked %v", err, tt.revoked)
			}
			if _, err := v.Verify(t.Context(), tok, authn.Presentation{}, t0); errors.Is(err, authn.ErrTokenRevoked) != tt.revoked {
				t.Errorf("Verify = %v, want revoked %v", err, tt.revoked)
			}
		})
	}
	if err := newTokenVerifier(t, keys, nil).CheckRevocation(&authn.Claims{ID: "jti-1"}); err != nil {
		t.Errorf("CheckRevocation without a revocation set = %v", err)
	}
}

func TestNewTokenVerifier(t *testing.T) {
	for _, cfg := range []authn.TokenConfig{{Keys: authn.StaticKeys{}}, {Issuer: issuer}} {
		if _, err := authn.NewTokenVerifier(cfg); err == nil {
			t.Errorf("NewTokenVerifier(%+v) accepted it", cfg)
		}
	}
}
