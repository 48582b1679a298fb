package authn_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kith-dev/kith/internal/authn"
)

// dpopKey signs DPoP proofs.
type dpopKey struct{ priv *ecdsa.PrivateKey }

func newDPoPKey(t testing.TB) dpopKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return dpopKey{k}
}

// jkt is the RFC 7638 thumbprint of the key.
func (k dpopKey) jkt(t testing.TB) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: k.priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// proof returns a proof by k for htm and htu at iat, bound to token when
// it is not empty, changed by mutate.
func (k dpopKey) proof(t testing.TB, htm, htu, token string, iat time.Time, mutate ...func(map[string]any)) string {
	t.Helper()
	var jti [12]byte
	rand.Read(jti[:])
	c := map[string]any{"jti": base64.RawURLEncoding.EncodeToString(jti[:]), "htm": htm, "htu": htu, "iat": iat.Unix()}
	if token != "" {
		c["ath"] = authn.TokenHash(token)
	}
	for _, m := range mutate {
		m(c)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseDPoPProof(t *testing.T) {
	k := newDPoPKey(t)
	const htu = "https://kith.test/oauth2/token"
	typed := func(typ string, embed bool) string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv}, (&jose.SignerOptions{EmbedJWK: embed}).WithType(jose.ContentType(typ)))
		out, _ := jwt.Signed(s).Claims(map[string]any{"jti": "j", "htm": "POST", "htu": htu, "iat": t0.Unix()}).Serialize()
		return out
	}
	tests := []struct {
		name  string
		proof string
		ok    bool
	}{
		{"valid", k.proof(t, "POST", htu, "", t0), true},
		{"typ JWT", typed("JWT", true), false},
		{"no jwk", typed("dpop+jwt", false), false},
		{"no jti", k.proof(t, "POST", htu, "", t0, func(c map[string]any) { delete(c, "jti") }), false},
		{"jti of 257 bytes", k.proof(t, "POST", htu, "", t0, func(c map[string]any) { c["jti"] = strings.Repeat("j", 257) }), false},
		{"no htm", k.proof(t, "", htu, "", t0), false},
		{"no htu", k.proof(t, "POST", "", "", t0), false},
		{"no iat", k.proof(t, "POST", htu, "", t0, func(c map[string]any) { delete(c, "iat") }), false},
		{"alg none", "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.", false},
		{"too long", strings.Repeat("a", authn.MaxDPoPProofSize+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := authn.ParseDPoPProof(tt.proof)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, authn.ErrInvalidDPoPProof)) {
				t.Fatalf("ParseDPoPProof = %v, want ok %v", err, tt.ok)
			}
			if err == nil && (p.JKT != k.jkt(t) || p.HTM != "POST" || p.HTU != htu || !p.IssuedAt.Time().Equal(t0)) {
				t.Errorf("ParseDPoPProof = %+v", p)
			}
		})
	}
}

func TestDPoPProofCheck(t *testing.T) {
	k := newDPoPKey(t)
	const url = "https://api.example/x"
	tests := []struct {
		name  string
		proof string
		req   authn.DPoPRequest
		ok    bool
	}{
		{"valid", k.proof(t, "GET", url, "tok", t0), authn.DPoPRequest{Method: "GET", URLs: []string{url}, AccessToken: "tok"}, true},
		{"one of several URLs", k.proof(t, "GET", url, "", t0), authn.DPoPRequest{Method: "GET", URLs: []string{"https://a.example/x", url}}, true},
		{"default port, case, query", k.proof(t, "GET", "HTTPS://API.example:443/x?q=1#f", "", t0), authn.DPoPRequest{Method: "GET", URLs: []string{url}}, true},
		{"path case matters", k.proof(t, "GET", "https://api.example/X", "", t0), authn.DPoPRequest{Method: "GET", URLs: []string{url}}, false},
		{"another port", k.proof(t, "GET", "https://api.example:8443/x", "", t0), authn.DPoPRequest{Method: "GET", URLs: []string{url}}, false},
		{"user information", k.proof(t, "GET", "https://u@api.example/x", "", t0), authn.DPoPRequest{Method: "GET", URLs: []string{"https://u@api.example/x"}}, false},
		{"relative htu", k.proof(t, "GET", "/x", "", t0), authn.DPoPRequest{Method: "GET", URLs: []string{"/x"}}, false},
		{"another method", k.proof(t, "POST", url, "", t0), authn.DPoPRequest{Method: "GET", URLs: []string{url}}, false},
		{"another token", k.proof(t, "GET", url, "other", t0), authn.DPoPRequest{Method: "GET", URLs: []string{url}, AccessToken: "tok"}, false},
		{"no ath", k.proof(t, "GET", url, "", t0), authn.DPoPRequest{Method: "GET", URLs: []string{url}, AccessToken: "tok"}, false},
		{"a minute old", k.proof(t, "GET", url, "", t0.Add(-time.Minute)), authn.DPoPRequest{Method: "GET", URLs: []string{url}}, true},
		{"stale", k.proof(t, "GET", url, "", t0.Add(-61*time.Second)), authn.DPoPRequest{Method: "GET", URLs: []string{url}}, false},
		{"from the future", k.proof(t, "GET", url, "", t0.Add(61*time.Second)), authn.DPoPRequest{Method: "GET", URLs: []string{url}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := authn.ParseDPoPProof(tt.proof)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Check(tt.req, t0, time.Minute)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, authn.ErrInvalidDPoPProof)) {
				t.Errorf("Check = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// replayFunc is a ReplayStore of a function.
type replayFunc func(key string, expires, now time.Time) (bool, error)

func (f replayFunc) FirstUse(key string, expires, now time.Time) (bool, error) {
	return f(key, expires, now)
}

func TestDPoPProofFirstUse(t *testing.T) {
	k := newDPoPKey(t)
	p, err := authn.ParseDPoPProof(k.proof(t, "GET", "https://api.example/x", "", t0))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]time.Time{}
	store := replayFunc(func(key string, expires, now time.Time) (bool, error) {
		if _, ok := seen[key]; ok {
			return false, nil
		}
		seen[key] = expires
		return true, nil
	})
	if err := p.FirstUse(store, t0, time.Minute); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := p.FirstUse(store, t0, time.Minute); !errors.Is(err, authn.ErrInvalidDPoPProof) {
		t.Errorf("second use = %v, want ErrInvalidDPoPProof", err)
	}
	for key, exp := range seen {
		if !strings.Contains(key, p.JKT) || !strings.Contains(key, p.JTI) || !exp.Equal(t0.Add(time.Minute)) {
			t.Errorf("recorded %q until %v, want the key and jti until iat+window", key, exp)
		}
	}
	full := errors.New("full")
	if err := p.FirstUse(replayFunc(func(string, time.Time, time.Time) (bool, error) { return false, full }), t0, time.Minute); err != full {
		t.Errorf("FirstUse with a full store = %v, want the store's error as is", err)
	}
}

func TestTokenHash(t *testing.T) {
	sum := sha256.Sum256([]byte("tok"))
	if got, want := authn.TokenHash("tok"), base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("TokenHash = %s, want %s", got, want)
	}
}
