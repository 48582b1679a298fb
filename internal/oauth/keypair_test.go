package oauth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kith-dev/kith/internal/oauth"
)

// keyPair is a client's signing key and its public JWK.
type keyPair struct {
	priv crypto.Signer
	alg  jose.SignatureAlgorithm
	kid  string
}

func newKeyPair(t testing.TB, kid string) keyPair {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return keyPair{priv: k, alg: jose.ES256, kid: kid}
}

func (k keyPair) jwk(t testing.TB) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign signs claims as a JWT with extra header fields.
func (k keyPair) sign(t testing.TB, claims any, headers map[jose.HeaderKey]any) string {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: headers}
	opts.WithHeader("kid", k.kid)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// assertion returns an RFC 7523 client assertion for client id.
func (k keyPair) assertion(t testing.TB, id oauth.ClientID, now time.Time, mutate ...func(map[string]any)) string {
	c := map[string]any{
		"iss": string(id), "sub": string(id), "aud": issuer + oauth.PathToken,
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "jti": randomID(),
	}
	for _, m := range mutate {
		m(c)
	}
	return k.sign(t, c, nil)
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// privateJWK returns k's private JWK, which a client must never register.
func privateJWK(t testing.TB, k keyPair) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: k.priv, KeyID: k.kid, Algorithm: string(k.alg)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
