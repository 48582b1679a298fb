package ca

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
)

func TestMintJWTSVID(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	id := mustID(t, "spiffe://example.org/ns/prod/sa/api")
	token, exp, err := c.MintJWTSVID(context.Background(), JWTParams{
		SPIFFEID: id,
		Audience: []string{"spiffe://example.org/db", "billing"},
		Claims:   map[string]any{"scope": "read", "tenant": 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := e.t0.Add(DefaultJWTSVIDTTL); !exp.Equal(want) {
		t.Errorf("expiresAt = %v, want %v", exp, want)
	}

	// go-spiffe validates signature, sub, aud and exp against the bundle.
	svid, err := jwtsvid.ParseAndValidate(token, c.Bundle(), []string{"billing"})
	if err != nil {
		t.Fatalf("jwtsvid.ParseAndValidate: %v", err)
	}
	if svid.ID != id || !svid.Expiry.Equal(exp) {
		t.Errorf("svid ID %v expiry %v; want %v %v", svid.ID, svid.Expiry, id, exp)
	}
	if diff := cmp.Diff([]string{"spiffe://example.org/db", "billing"}, svid.Audience); diff != "" {
		t.Errorf("audience (-want +got):\n%s", diff)
	}
	if svid.Claims["scope"] != "read" || svid.Claims["tenant"] != float64(7) {
		t.Errorf("extra claims missing: %v", svid.Claims)
	}
	if _, err := jwtsvid.ParseAndValidate(token, c.Bundle(), []string{"someone-else"}); err == nil {
		t.Error("token accepted for another audience")
	}
	if _, err := jwtsvid.ParseAndValidate(token, newOtherCA(t).Bundle(), []string{"billing"}); err == nil {
		t.Error("token accepted by an unrelated bundle")
	}

	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Headers[0]
	if h.Algorithm != "ES256" || h.KeyID != slotIDs(c)[statusActive] || h.ExtraHeaders[jose.HeaderType] != "JWT" {
		t.Errorf("header alg=%q kid=%q typ=%v; want ES256, the active key ID, JWT", h.Algorithm, h.KeyID, h.ExtraHeaders[jose.HeaderType])
	}
	var claims map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"sub": id.String(), "aud": []any{"spiffe://example.org/db", "billing"},
		"iat": float64(e.t0.Unix()), "exp": float64(exp.Unix()),
		"scope": "read", "tenant": float64(7),
	}
	if diff := cmp.Diff(want, claims); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}

func TestMintJWTSVIDCapsExpiry(t *testing.T) {
	tests := []struct {
		name string
		now  time.Duration
		ttl  time.Duration
		want time.Duration
	}{
		{"explicit TTL", 0, time.Minute, time.Minute},
		{"TTL beyond key life", 0, 48 * time.Hour, DefaultCATTL},
		{"default TTL near key end", DefaultCATTL - time.Minute, 0, DefaultCATTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.newCA(t)
			now := e.at(tt.now)
			token, exp, err := c.MintJWTSVID(context.Background(), JWTParams{
				SPIFFEID: mustID(t, "spiffe://example.org/w"), Audience: []string{"a"}, TTL: tt.ttl,
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := e.t0.Add(tt.want); !exp.Equal(want) {
				t.Errorf("exp = %v, want %v", exp, want)
			}
			if _, err := verifyJWT(t, token, c.Bundle(), "a", now); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestMintJWTSVIDRefuses(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	id := mustID(t, "spiffe://example.org/w")
	aud := []string{"a"}
	tests := []struct {
		name    string
		p       JWTParams
		wantErr error
		wantMsg string
	}{
		{"no audience", JWTParams{SPIFFEID: id}, ErrInvalidParams, "audience"},
		{"empty audience entry", JWTParams{SPIFFEID: id, Audience: []string{"a", ""}}, ErrInvalidParams, "empty audience"},
		{"too many audiences", JWTParams{SPIFFEID: id, Audience: make([]string, maxAudiences+1)}, ErrInvalidParams, "audience"},
		{"foreign trust domain", JWTParams{SPIFFEID: mustID(t, "spiffe://other.org/w"), Audience: aud}, ErrInvalidSPIFFEID, "not in trust domain"},
		{"empty path", JWTParams{SPIFFEID: spiffeid.RequireTrustDomainFromString("example.org").ID(), Audience: aud}, ErrInvalidSPIFFEID, "trust domain"},
		{"zero ID", JWTParams{Audience: aud}, ErrInvalidSPIFFEID, "empty"},
		{"negative TTL", JWTParams{SPIFFEID: id, Audience: aud, TTL: -time.Minute}, ErrInvalidParams, "negative"},
		{"override sub", JWTParams{SPIFFEID: id, Audience: aud, Claims: map[string]any{"sub": "spiffe://example.org/admin"}}, ErrInvalidParams, `"sub" is reserved`},
		{"override aud", JWTParams{SPIFFEID: id, Audience: aud, Claims: map[string]any{"aud": "x"}}, ErrInvalidParams, `"aud" is reserved`},
		{"override exp", JWTParams{SPIFFEID: id, Audience: aud, Claims: map[string]any{"exp": 1 << 40}}, ErrInvalidParams, `"exp" is reserved`},
		{"override iat", JWTParams{SPIFFEID: id, Audience: aud, Claims: map[string]any{"iat": 0}}, ErrInvalidParams, `"iat" is reserved`},
		{"set nbf", JWTParams{SPIFFEID: id, Audience: aud, Claims: map[string]any{"nbf": 0}}, ErrInvalidParams, `"nbf" is reserved`},
		{"unencodable claim", JWTParams{SPIFFEID: id, Audience: aud, Claims: map[string]any{"f": func() {}}}, ErrInvalidParams, "extra claims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, _, err := c.MintJWTSVID(context.Background(), tt.p)
			if !errorIs(err, tt.wantErr) || !strings.Contains(errString(err), tt.wantMsg) {
				t.Fatalf("MintJWTSVID = %q, %v; want %v containing %q", token, err, tt.wantErr, tt.wantMsg)
			}
			if token != "" {
				t.Error("a token came with the error")
			}
		})
	}
}

func TestMintJWTSVIDExpiredKey(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	e.at(DefaultCATTL + time.Second)
	_, _, err := c.MintJWTSVID(context.Background(), JWTParams{SPIFFEID: mustID(t, "spiffe://example.org/w"), Audience: []string{"a"}})
	if !errorIs(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}
