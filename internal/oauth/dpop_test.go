package oauth_test

import (
	"crypto"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
)

// proof returns a DPoP proof signed by k for htm and htu at iat.
func proof(t testing.TB, k keyPair, htm, htu string, iat time.Time, mutate ...func(map[string]any)) string {
	t.Helper()
	c := map[string]any{"jti": randomID(), "htm": htm, "htu": htu, "iat": iat.Unix()}
	for _, m := range mutate {
		m(c)
	}
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// jkt is the RFC 7638 thumbprint of k's public key.
func jkt(t testing.TB, k keyPair) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: k.priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

func TestDPoP(t *testing.T) {
	e := newEnv(t)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	auth := [2]string{string(cl.ID), sec.Reveal()}
	k := newKeyPair(t, "")
	htu := issuer + oauth.PathToken

	resp := e.mustToken(request{form: ccForm(), basic: auth, dpop: proof(t, k, "POST", htu, t0)})
	if resp.TokenType != "DPoP" {
		t.Errorf("token_type %q, want DPoP", resp.TokenType)
	}
	if c := e.verify(resp.AccessToken); c.Cnf["jkt"] != jkt(t, k) {
		t.Errorf("cnf %v, want jkt %s", c.Cnf, jkt(t, k))
	}

	replayed := proof(t, k, "POST", htu, t0)
	e.mustToken(request{form: ccForm(), basic: auth, dpop: replayed})
	tests := []struct {
		name  string
		proof string
	}{
		{"replayed jti", replayed},
		{"wrong htu", proof(t, k, "POST", "https://evil.example/oauth2/token", t0)},
		{"htu of another endpoint", proof(t, k, "POST", issuer+oauth.PathIntrospect, t0)},
		{"wrong htm", proof(t, k, "GET", htu, t0)},
		{"stale iat", proof(t, k, "POST", htu, t0.Add(-2*time.Minute))},
		{"iat in the future", proof(t, k, "POST", htu, t0.Add(2*time.Minute))},
		{"no jti", proof(t, k, "POST", htu, t0, func(c map[string]any) { delete(c, "jti") })},
		{"not a DPoP proof", newKeyPair(t, "x").sign(t, map[string]any{"jti": "a", "htm": "POST", "htu": htu, "iat": t0.Unix()}, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.do(request{form: ccForm(), basic: auth, dpop: tc.proof}), http.StatusBadRequest, "invalid_dpop_proof")
		})
	}
	t.Run("alternate base URL, default port and query ignored", func(t *testing.T) {
		e.mustToken(request{form: ccForm(), basic: auth, dpop: proof(t, k, "POST", "https://127.0.0.1:8443/oauth2/token?x=1", t0)})
		e.mustToken(request{form: ccForm(), basic: auth, dpop: proof(t, k, "POST", "https://KITH.test:443/oauth2/token", t0)})
	})
	t.Run("two DPoP headers", func(t *testing.T) {
		p := proof(t, k, "POST", htu, t0)
		w := e.do(request{form: ccForm(), basic: auth, header: http.Header{"Dpop": {p, p}}})
		wantError(t, w, http.StatusBadRequest, "invalid_dpop_proof")
	})
}

func TestDPoPNonce(t *testing.T) {
	e := newEnv(t, func(c *oauth.Config) { c.RequireDPoPNonce = true })
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	auth := [2]string{string(cl.ID), sec.Reveal()}
	k := newKeyPair(t, "")
	htu := issuer + oauth.PathToken

	w := e.do(request{form: ccForm(), basic: auth, dpop: proof(t, k, "POST", htu, t0)})
	wantError(t, w, http.StatusBadRequest, "use_dpop_nonce")
	nonce := w.Header().Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
	}
	withNonce := func(n string) func(map[string]any) { return func(c map[string]any) { c["nonce"] = n } }
	w = e.do(request{form: ccForm(), basic: auth, dpop: proof(t, k, "POST", htu, t0, withNonce(nonce))})
	if w.Code != http.StatusOK {
		t.Fatalf("with the nonce: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("DPoP-Nonce") == "" {
		t.Error("a DPoP response lacks a fresh DPoP-Nonce")
	}
	wantError(t, e.do(request{form: ccForm(), basic: auth, dpop: proof(t, k, "POST", htu, t0, withNonce("bogus"))}),
		http.StatusBadRequest, "use_dpop_nonce")

	// A nonce lives for a few windows, then is refused.
	e.clock.Add(5 * time.Minute)
	wantError(t, e.do(request{form: ccForm(), basic: auth, dpop: proof(t, k, "POST", htu, e.clock.Now(), withNonce(nonce))}),
		http.StatusBadRequest, "use_dpop_nonce")
}
