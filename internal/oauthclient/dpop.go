package oauthclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/kith-dev/kith/internal/authn"
)

// algorithmFor returns the JWS algorithm for a public key.
func algorithmFor(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
	case *rsa.PublicKey:
		return jose.PS256, nil
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("oauth: unsupported key type %T", pub)
}

// dpopSigner signs DPoP proofs with one key.
type dpopSigner struct {
	signer jose.Signer
}

func newDPoPSigner(key crypto.Signer) (*dpopSigner, error) {
	alg, err := algorithmFor(key.Public())
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("oauth: DPoP signer: %w", err)
	}
	return &dpopSigner{signer: s}, nil
}

// proof signs a DPoP proof for a request; accessToken, when set, is bound
// with ath.
func (d *dpopSigner) proof(method, rawURL string, now time.Time, accessToken, nonce string) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	c := authn.DPoPClaims{JTI: base64.RawURLEncoding.EncodeToString(id[:]), HTM: method, HTU: stripQuery(rawURL),
		IssuedAt: jwt.NewNumericDate(now), Nonce: nonce}
	if accessToken != "" {
		c.ATH = authn.TokenHash(accessToken)
	}
	return jwt.Signed(d.signer).Claims(c).Serialize()
}

// stripQuery removes the query and fragment of a URL.
func stripQuery(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}
