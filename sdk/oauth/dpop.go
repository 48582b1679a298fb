package oauth

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// dpopClaims are the claims of a DPoP proof (RFC 9449 §4.2).
type dpopClaims struct {
	JTI      string           `json:"jti"`
	HTM      string           `json:"htm"`
	HTU      string           `json:"htu"`
	IssuedAt *jwt.NumericDate `json:"iat"`
	Nonce    string           `json:"nonce,omitempty"`
	ATH      string           `json:"ath,omitempty"`
}

// tokenHash is the ath of an access token: base64url(SHA-256(token)).
func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// proofAlgs are the algorithms accepted in DPoP proofs.
var proofAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.PS256, jose.EdDSA}

// verifyProof checks a DPoP proof's signature with its embedded key and
// returns its claims and the key's RFC 7638 thumbprint.
func verifyProof(raw string) (dpopClaims, string, error) {
	var c dpopClaims
	if len(raw) > 8<<10 {
		return c, "", errors.New("DPoP proof too long")
	}
	jws, err := jose.ParseSignedCompact(raw, proofAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return c, "", errors.New("DPoP proof is not a signed JWT")
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return c, "", errors.New("DPoP proof typ is not dpop+jwt")
	}
	if h.JSONWebKey == nil || !h.JSONWebKey.Valid() || !h.JSONWebKey.IsPublic() {
		return c, "", errors.New("DPoP proof lacks a public jwk")
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		return c, "", errors.New("DPoP proof signature does not verify")
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.JTI == "" || c.IssuedAt == nil {
		return c, "", errors.New("DPoP proof claims are malformed")
	}
	tp, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return c, "", err
	}
	return c, base64.RawURLEncoding.EncodeToString(tp), nil
}

// sameURL compares two URLs ignoring case of scheme and host, default
// ports, queries and fragments.
func sameURL(a, b string) bool {
	na, ok1 := normalize(a)
	nb, ok2 := normalize(b)
	return ok1 && ok2 && na == nb
}

func normalize(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", false
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if (scheme == "https" && strings.HasSuffix(host, ":443")) || (scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return scheme + "://" + host + p, true
}
