package authn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// FuzzDPoPProof feeds arbitrary strings to the DPoP proof parser.
func FuzzDPoPProof(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sign := func(claims map[string]any, typ string, embed bool) string {
		opts := (&jose.SignerOptions{EmbedJWK: embed}).WithType(jose.ContentType(typ))
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
		tok, _ := jwt.Signed(s).Claims(claims).Serialize()
		return tok
	}
	good := map[string]any{"jti": "j", "htm": "POST", "htu": "https://kith.test/oauth2/token", "iat": 1.9e9}
	f.Add(sign(good, "dpop+jwt", true))
	f.Add(sign(good, "JWT", true))
	f.Add(sign(good, "dpop+jwt", false))
	f.Add(sign(map[string]any{"jti": 5, "htm": []int{1}}, "dpop+jwt", true))
	f.Add(sign(map[string]any{"jti": strings.Repeat("j", 300), "htm": "POST", "htu": "x", "iat": 1}, "dpop+jwt", true))
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := ParseDPoPProof(raw)
		if err != nil {
			return
		}
		c := p.DPoPClaims
		if p.JKT == "" || c.JTI == "" || len(c.JTI) > maxDPoPJTI || c.HTM == "" || c.HTU == "" || c.IssuedAt == nil {
			t.Fatalf("accepted an incomplete proof: %+v", p)
		}
	})
}
