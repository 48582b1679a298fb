package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/kith-dev/kith/sdk/oauth"
)

// BenchmarkVerifyToken measures the verification of an access token
// presented over the TLS client certificate it is bound to.
func BenchmarkVerifyToken(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := oauth.StaticKeys{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	v, err := oauth.NewVerifier(oauth.VerifierConfig{Issuer: "https://kith.test", Audience: resourceID, Keys: keys})
	if err != nil {
		b.Fatal(err)
	}
	cert := &x509.Certificate{Raw: []byte("a client certificate")}
	sum := sha256.Sum256(cert.Raw)
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{"iss": "https://kith.test", "sub": "spiffe://kith.test/orders", "aud": resourceID,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "j1", "client_id": "ci_orders", "scope": "a b",
		"cnf": map[string]string{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}})
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		b.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := obj.CompactSerialize()
	ctx := context.Background()
	p := oauth.Presentation{ClientCert: cert}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyToken(ctx, tok, p); err != nil {
			b.Fatal(err)
		}
	}
}
