package authn

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ErrInvalidDPoPProof is returned (wrapped) for a DPoP proof that is
// malformed, not signed by the key in its header, not for the request or
// the token it comes with, stale, or replayed.
var ErrInvalidDPoPProof = errors.New("authn: invalid DPoP proof")

// MaxDPoPProofSize caps the length of a DPoP proof [ParseDPoPProof]
// parses.
const MaxDPoPProofSize = 8 << 10

// maxDPoPJTI bounds a proof's jti, which a replay store remembers.
const maxDPoPJTI = 256

// dpopType is the JWS typ of a DPoP proof (RFC 9449 §4.2).
const dpopType = "dpop+jwt"

// dpopAlgorithms are the signature algorithms accepted in DPoP proofs.
var dpopAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.PS256, jose.EdDSA}

// DPoPClaims are the claims of a DPoP proof (RFC 9449 §4.2).
type DPoPClaims struct {
	JTI      string           `json:"jti"`
	HTM      string           `json:"htm"`
	HTU      string           `json:"htu"`
	IssuedAt *jwt.NumericDate `json:"iat"`
	Nonce    string           `json:"nonce,omitempty"`
	ATH      string           `json:"ath,omitempty"`
}

// DPoPProof is a DPoP proof whose signature verified with the public key
// in its header.
type DPoPProof struct {
	DPoPClaims
	// JKT is the RFC 7638 thumbprint of the proof's key, base64url: the
	// cnf.jkt of a token bound to it.
	JKT string
}

// ParseDPoPProof parses a DPoP proof and verifies its signature with the
// public key in its header (RFC 9449 §4.3, checks 1 to 7): one JWS with an
// accepted asymmetric algorithm, typ dpop+jwt, a public jwk, and a jti (at
// most 256 bytes), htm, htu and iat. It does not check what the proof is
// for, its age or whether it was used before: [DPoPProof.Check] and
// [DPoPProof.FirstUse] do, with what the caller knows of the request.
//
// It returns an error wrapping [ErrInvalidDPoPProof].
func ParseDPoPProof(raw string) (*DPoPProof, error) {
	if len(raw) > MaxDPoPProofSize {
		return nil, fmt.Errorf("%w: proof too long", ErrInvalidDPoPProof)
	}
	jws, err := jose.ParseSignedCompact(raw, dpopAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: proof is not a signed JWT with an accepted algorithm", ErrInvalidDPoPProof)
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != dpopType {
		return nil, fmt.Errorf("%w: proof typ is %q, not %s", ErrInvalidDPoPProof, clip(typ), dpopType)
	}
	jwk := h.JSONWebKey
	if jwk == nil || !jwk.Valid() || !jwk.IsPublic() {
		return nil, fmt.Errorf("%w: proof header lacks a valid public jwk", ErrInvalidDPoPProof)
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return nil, fmt.Errorf("%w: proof signature does not verify with its jwk", ErrInvalidDPoPProof)
	}
	p := &DPoPProof{}
	if err := json.Unmarshal(payload, &p.DPoPClaims); err != nil {
		return nil, fmt.Errorf("%w: proof claims: %v", ErrInvalidDPoPProof, err)
	}
	switch c := &p.DPoPClaims; {
	case c.JTI == "" || len(c.JTI) > maxDPoPJTI:
		return nil, fmt.Errorf("%w: proof jti missing or too long", ErrInvalidDPoPProof)
	case c.HTM == "" || c.HTU == "":
		return nil, fmt.Errorf("%w: proof lacks htm or htu", ErrInvalidDPoPProof)
	case c.IssuedAt == nil:
		return nil, fmt.Errorf("%w: proof lacks iat", ErrInvalidDPoPProof)
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: proof key thumbprint: %v", ErrInvalidDPoPProof, err)
	}
	p.JKT = base64.RawURLEncoding.EncodeToString(tp)
	return p, nil
}

// DPoPRequest is what a DPoP proof must be for.
type DPoPRequest struct {
	// Method is the request's method; htm must equal it.
	Method string
	// URLs are the URLs the request may have been sent to; htu must name
	// one of them (scheme and host compared without regard to case, a
	// default port, the query and the fragment ignored).
	URLs []string
	// AccessToken is the access token the request presents; ath must be
	// its [TokenHash]. Empty for a request without one (a token request),
	// whose proof's ath is not checked.
	AccessToken string
}

// Check checks that p is a proof for req (RFC 9449 §4.3, checks 8 to 10:
// htm, htu and ath) issued within window of now (check 11). It returns an
// error wrapping [ErrInvalidDPoPProof].
func (p *DPoPProof) Check(req DPoPRequest, now time.Time, window time.Duration) error {
	if p.HTM != req.Method {
		return fmt.Errorf("%w: htm %q is not %s", ErrInvalidDPoPProof, clip(p.HTM), clip(req.Method))
	}
	if !anyURL(p.HTU, req.URLs) {
		return fmt.Errorf("%w: htu %q is not the request's URL", ErrInvalidDPoPProof, clip(p.HTU))
	}
	if req.AccessToken != "" && !digestIs(p.ATH, []byte(req.AccessToken)) {
		return fmt.Errorf("%w: the proof is for another access token", ErrInvalidDPoPProof)
	}
	if d := now.Sub(p.IssuedAt.Time()); d > window || d < -window {
		return fmt.Errorf("%w: iat is %v from now", ErrInvalidDPoPProof, d.Round(time.Second))
	}
	return nil
}

// ReplayStore remembers one-time identifiers, such as the jtis of DPoP
// proofs, until they expire. The caller chooses it: in memory for one
// process, or shared by the replicas of a service. Implementations must be
// safe for concurrent use.
type ReplayStore interface {
	// FirstUse records key until expires and reports whether it was
	// unseen (or seen but expired) at now. An error (a full store) refuses
	// the identifier.
	FirstUse(key string, expires, now time.Time) (bool, error)
}

// FirstUse records p in replay until its iat plus window, the end of its
// validity for [DPoPProof.Check]. It returns an error wrapping
// [ErrInvalidDPoPProof] if replay saw the proof before (the same jti for
// the same key), or the error of replay.
func (p *DPoPProof) FirstUse(replay ReplayStore, now time.Time, window time.Duration) error {
	first, err := replay.FirstUse("dpop\x00"+p.JKT+"\x00"+p.JTI, p.IssuedAt.Time().Add(window), now)
	if err != nil {
		return err
	}
	if !first {
		return fmt.Errorf("%w: proof jti replayed", ErrInvalidDPoPProof)
	}
	return nil
}

// TokenHash returns the ath of an access token (RFC 9449 §4.2):
// base64url(SHA-256(token)).
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// digestIs reports whether want is base64url(SHA-256(data)), as ath and
// cnf.x5t#S256 are, without allocating.
func digestIs(want string, data []byte) bool {
	sum := sha256.Sum256(data)
	var enc [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	return want == string(enc[:])
}

// anyURL reports whether htu names one of urls (RFC 9449 §4.3): scheme
// and host compared without regard to case, a default port, the query and
// the fragment ignored. A URL with user information never matches.
func anyURL(htu string, urls []string) bool {
	got, ok := normalizeURL(htu)
	if !ok {
		return false
	}
	for _, u := range urls {
		if want, ok := normalizeURL(u); ok && want == got {
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

// clip bounds a value quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
