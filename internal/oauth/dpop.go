package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// dpopType is the JWS typ of a DPoP proof (RFC 9449 §4.2).
const dpopType = "dpop+jwt"

// maxDPoPBytes bounds a DPoP proof.
const maxDPoPBytes = 8 << 10

// maxDPoPJTI bounds a proof's jti.
const maxDPoPJTI = 256

// dpopClaims are the claims of a DPoP proof.
type dpopClaims struct {
	JTI      string           `json:"jti"`
	HTM      string           `json:"htm"`
	HTU      string           `json:"htu"`
	IssuedAt *jwt.NumericDate `json:"iat"`
	Nonce    string           `json:"nonce,omitempty"`
	ATH      string           `json:"ath,omitempty"`
}

// dpopProof is a DPoP proof whose signature verified with its own key.
type dpopProof struct {
	jkt    string // the RFC 7638 thumbprint of the proof's key: cnf.jkt
	claims dpopClaims
}

// parseDPoPProof parses a DPoP proof and verifies its signature with the
// public key in its header (RFC 9449 §4.3, checks 1 to 7 and 11). It does
// not check htm, htu, iat, the nonce or replay: the caller knows the
// request and the time.
func parseDPoPProof(raw string) (*dpopProof, error) {
	if len(raw) > maxDPoPBytes {
		return nil, errors.New("proof too long")
	}
	jws, err := jose.ParseSignedCompact(raw, signingAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("proof is not a signed JWT with an accepted algorithm")
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != dpopType {
		return nil, fmt.Errorf("proof typ is %q, not %s", truncate(typ), dpopType)
	}
	jwk := h.JSONWebKey
	if jwk == nil || !jwk.Valid() || !jwk.IsPublic() {
		return nil, errors.New("proof header lacks a valid public jwk")
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return nil, errors.New("proof signature does not verify with its jwk")
	}
	var p dpopProof
	if err := json.Unmarshal(payload, &p.claims); err != nil {
		return nil, fmt.Errorf("proof claims: %v", err)
	}
	c := p.claims
	switch {
	case c.JTI == "" || len(c.JTI) > maxDPoPJTI:
		return nil, errors.New("proof jti missing or too long")
	case c.HTM == "" || c.HTU == "":
		return nil, errors.New("proof lacks htm or htu")
	case c.IssuedAt == nil:
		return nil, errors.New("proof lacks iat")
	}
	if p.jkt, err = thumbprint(jwk.Key); err != nil {
		return nil, err
	}
	return &p, nil
}

// checkDPoP verifies the request's DPoP proof for endpoint (a path such
// as PathToken), if it sent one: nil without a DPoP header. Errors are
// invalid_dpop_proof or use_dpop_nonce.
func (s *Service) checkDPoP(r *http.Request, endpoint string, now time.Time) (*dpopProof, error) {
	hs := r.Header.Values("DPoP")
	switch len(hs) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, invalidDPoP(errors.New("several DPoP headers"))
	}
	p, err := parseDPoPProof(hs[0])
	if err != nil {
		return nil, invalidDPoP(err)
	}
	c := p.claims
	if c.HTM != r.Method {
		return nil, invalidDPoP(fmt.Errorf("htm %q is not %s", truncate(c.HTM), r.Method))
	}
	if !s.matchesHTU(c.HTU, endpoint) {
		return nil, invalidDPoP(fmt.Errorf("htu %q is not this endpoint", truncate(c.HTU)))
	}
	iat := c.IssuedAt.Time()
	if d := now.Sub(iat); d > s.cfg.DPoPWindow || d < -s.cfg.DPoPWindow {
		return nil, invalidDPoP(fmt.Errorf("iat is %v from now", d.Round(time.Second)))
	}
	if s.cfg.RequireDPoPNonce && !s.nonces.valid(c.Nonce, now) {
		return nil, &protocolError{code: codeUseDPoPNonce, desc: "use the DPoP-Nonce this response carries",
			dpopNonce: s.nonces.current(now)}
	}
	first, err := s.replay.firstUse("dpop\x00"+p.jkt+"\x00"+c.JTI, iat.Add(s.cfg.DPoPWindow), now)
	if err != nil {
		return nil, err
	}
	if !first {
		return nil, invalidDPoP(errors.New("proof jti replayed"))
	}
	return p, nil
}

// matchesHTU reports whether htu names endpoint under one of the base
// URLs, comparing scheme and host case-insensitively, ignoring a default
// port, the query and the fragment (RFC 9449 §4.3).
func (s *Service) matchesHTU(htu, endpoint string) bool {
	got, ok := normalizeURL(htu)
	if !ok {
		return false
	}
	for _, base := range s.baseURLs {
		if want, ok := normalizeURL(base + endpoint); ok && want == got {
			return true
		}
	}
	return false
}

// normalizeURL returns scheme://host[:port]/path of an absolute URL, in
// lower case but for the path, without a default port.
func normalizeURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil {
		return "", false
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if (scheme == "https" && strings.HasSuffix(host, ":443")) || (scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}

// nonceWindow is how long one DPoP nonce is handed out; a nonce is
// accepted for three windows.
const nonceWindow = 30 * time.Second

// nonceSource makes and checks DPoP nonces without state: a nonce is a
// window number and its HMAC under a key shared by all replicas.
type nonceSource struct {
	keys  *keyring
	clock func() time.Time
}

func newNonceSource(keys *keyring, clock func() time.Time) *nonceSource {
	return &nonceSource{keys: keys, clock: clock}
}

func (n *nonceSource) mac(window uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], window)
	m := hmac.New(sha256.New, n.keys.nonceKey())
	m.Write([]byte("kith dpop nonce\x00"))
	m.Write(b[:])
	return append(b[:], m.Sum(nil)[:16]...)
}

// current returns the nonce to hand out at now.
func (n *nonceSource) current(now time.Time) string {
	return base64.RawURLEncoding.EncodeToString(n.mac(uint64(now.Unix()) / uint64(nonceWindow/time.Second)))
}

// valid reports whether nonce was handed out in the current window or
// one of the two before it.
func (n *nonceSource) valid(nonce string, now time.Time) bool {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return false
	}
	w := binary.BigEndian.Uint64(b[:8])
	cur := uint64(now.Unix()) / uint64(nonceWindow/time.Second)
	if w > cur || cur-w > 2 {
		return false
	}
	return hmac.Equal(b, n.mac(w))
}
