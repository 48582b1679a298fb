package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Errors of [Verifier.Verify]; test for them with errors.Is.
var (
	// ErrNoToken: the request carries no access token.
	ErrNoToken = errors.New("oauth: no access token")
	// ErrInvalidToken: the token is malformed, of another type, issuer or
	// audience, or its signature does not verify.
	ErrInvalidToken = errors.New("oauth: invalid access token")
	// ErrExpired: the token is past its exp or not yet valid.
	ErrExpired = errors.New("oauth: access token expired")
	// ErrRevoked: the revocation set revokes the token.
	ErrRevoked = errors.New("oauth: access token revoked")
	// ErrBinding: the token is sender-constrained and the request does not
	// prove possession of its certificate or DPoP key.
	ErrBinding = errors.New("oauth: access token binding not proven")
	// ErrUnknownKey: no published key has the token's key ID.
	ErrUnknownKey = errors.New("oauth: unknown signing key")
)

// Revocations is the revocation set a verifier consults: credentials of a
// kind ("jti", "client_id", "spiffe_id") and value issued at or before
// some time are revoked. Kith's revocation set implements it.
type Revocations interface {
	IsRevoked(kind, value string, issuedAt time.Time) bool
}

// VerifierConfig configures a [Verifier].
type VerifierConfig struct {
	// Issuer is the token service's issuer identifier; the iss claim must
	// equal it. Required.
	Issuer string
	// Audience is this resource server's identifier, such as its SPIFFE
	// ID; the aud claim must contain it. Required.
	Audience string
	// Keys gives the issuer's signing keys; nil fetches Issuer +
	// "/oauth2/jwks" with HTTPClient.
	Keys KeySource
	// HTTPClient fetches the JWKS; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Revocations, if set, is consulted for the token's jti, client, subject
	// and actors.
	Revocations Revocations
	// URL returns the URL a request was sent to, for DPoP's htu; nil means
	// https://<Host><path>.
	URL func(r *http.Request) string
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Leeway is the clock skew tolerated on exp, iat and DPoP proofs'
	// iat: one minute when zero.
	Leeway time.Duration
}

// Verifier checks access tokens for a resource server. It is safe for
// concurrent use.
type Verifier struct {
	cfg    VerifierConfig
	keys   KeySource
	clock  func() time.Time
	leeway time.Duration

	mu   sync.Mutex
	seen map[string]time.Time // DPoP proof jtis until their expiry
}

// NewVerifier returns a Verifier for cfg. It returns an error if Issuer or
// Audience is empty.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("oauth: VerifierConfig needs Issuer and Audience")
	}
	v := &Verifier{cfg: cfg, keys: cfg.Keys, clock: cfg.Clock, leeway: cfg.Leeway, seen: make(map[string]time.Time)}
	if v.clock == nil {
		v.clock = time.Now
	}
	if v.leeway == 0 {
		v.leeway = time.Minute
	}
	if v.keys == nil {
		hc := cfg.HTTPClient
		if hc == nil {
			hc = http.DefaultClient
		}
		v.keys = &jwksSource{url: strings.TrimSuffix(cfg.Issuer, "/") + "/oauth2/jwks", hc: hc, clock: v.clock}
	}
	return v, nil
}

// Verify checks the access token of request r (Authorization: Bearer or
// DPoP) and its binding to r's TLS client certificate or DPoP proof, and
// returns its claims. It returns an error wrapping [ErrNoToken],
// [ErrInvalidToken], [ErrUnknownKey], [ErrExpired], [ErrRevoked] or
// [ErrBinding], or the error of fetching the keys.
func (v *Verifier) Verify(r *http.Request) (*Claims, error) {
	tok, p, err := v.Presented(r)
	if err != nil {
		return nil, err
	}
	return v.VerifyToken(r.Context(), tok, p)
}

// Presented returns the access token of request r and how it was
// presented, as [Verifier.Verify] reads them: the Authorization scheme
// (Bearer or DPoP), the DPoP proof, method and URL, and the TLS client
// certificate. It returns [ErrNoToken] when r carries no token.
func (v *Verifier) Presented(r *http.Request) (string, Presentation, error) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || tok == "" {
		return "", Presentation{}, ErrNoToken
	}
	var p Presentation
	switch {
	case strings.EqualFold(scheme, "Bearer"):
	case strings.EqualFold(scheme, "DPoP"):
		p.DPoP = true
		if hs := r.Header.Values("DPoP"); len(hs) == 1 {
			p.DPoPProof = hs[0]
		}
		p.Method = r.Method
		if v.cfg.URL != nil {
			p.URL = v.cfg.URL(r)
		} else {
			p.URL = "https://" + r.Host + r.URL.EscapedPath()
		}
	default:
		return "", Presentation{}, ErrNoToken
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		p.ClientCert = r.TLS.PeerCertificates[0]
	}
	return strings.TrimSpace(tok), p, nil
}

// CheckBinding checks that token, whose claims c a previous
// [Verifier.VerifyToken] returned, is presented as its binding demands:
// over its client certificate (RFC 8705), or with a fresh DPoP proof of
// its key for this request and token, not seen before (RFC 9449). It lets
// a caller that caches verified claims skip the token's signature but
// never its proof of possession. It returns an error wrapping
// [ErrBinding].
func (v *Verifier) CheckBinding(c *Claims, token string, p Presentation) error {
	return v.checkBinding(c, token, p, v.clock())
}

// Presentation is how a token was presented: over which TLS client
// certificate, and with which DPoP proof for which request.
type Presentation struct {
	ClientCert *x509.Certificate
	DPoP       bool   // sent with the DPoP scheme
	DPoPProof  string // the DPoP header
	Method     string
	URL        string
}

// VerifyToken checks token as presented by p and returns its claims. It
// returns the errors of [Verifier.Verify].
func (v *Verifier) VerifyToken(ctx context.Context, token string, p Presentation) (*Claims, error) {
	c, err := v.parse(ctx, token)
	if err != nil {
		return nil, err
	}
	now := v.clock()
	if !now.Before(c.Expiry.Add(v.leeway)) || now.Add(v.leeway).Before(c.IssuedAt) {
		return nil, ErrExpired
	}
	if v.revoked(c) {
		return nil, ErrRevoked
	}
	if err := v.checkBinding(c, token, p, now); err != nil {
		return nil, err
	}
	return c, nil
}

// parse verifies the token's signature, typ, issuer and audience.
func (v *Verifier) parse(ctx context.Context, token string) (*Claims, error) {
	if len(token) > 16<<10 {
		return nil, fmt.Errorf("%w: too long", ErrInvalidToken)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: not an ES256 JWS", ErrInvalidToken)
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, fmt.Errorf("%w: typ is not at+jwt", ErrInvalidToken)
	}
	key, err := v.keys.Key(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, fmt.Errorf("%w: signature does not verify", ErrInvalidToken)
	}
	var raw rawClaims
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	c := raw.claims()
	switch {
	case c.Issuer != v.cfg.Issuer:
		return nil, fmt.Errorf("%w: issuer %q", ErrInvalidToken, c.Issuer)
	case !slices.Contains(c.Audience, v.cfg.Audience):
		return nil, fmt.Errorf("%w: not issued for %s", ErrInvalidToken, v.cfg.Audience)
	case c.ID == "" || c.Expiry.IsZero():
		return nil, fmt.Errorf("%w: missing jti or exp", ErrInvalidToken)
	}
	return c, nil
}

// revoked asks the revocation set about the token's jti, client, subject
// and actors.
func (v *Verifier) revoked(c *Claims) bool {
	rv := v.cfg.Revocations
	if rv == nil {
		return false
	}
	if rv.IsRevoked("jti", c.ID, c.IssuedAt) || rv.IsRevoked("client_id", c.ClientID, c.IssuedAt) ||
		rv.IsRevoked("spiffe_id", c.Subject, c.IssuedAt) {
		return true
	}
	for a := c.Actor; a != nil; a = a.Actor {
		if rv.IsRevoked("spiffe_id", a.Subject, c.IssuedAt) || (a.ClientID != "" && rv.IsRevoked("client_id", a.ClientID, c.IssuedAt)) {
			return true
		}
	}
	return false
}

// checkBinding checks a sender-constrained token's proof of possession
// (RFC 8705 §3, RFC 9449 §7).
func (v *Verifier) checkBinding(c *Claims, token string, p Presentation, now time.Time) error {
	if c.CertThumbprint != "" {
		if p.ClientCert == nil {
			return fmt.Errorf("%w: the token is bound to a client certificate and none was presented", ErrBinding)
		}
		sum := sha256.Sum256(p.ClientCert.Raw)
		if base64.RawURLEncoding.EncodeToString(sum[:]) != c.CertThumbprint {
			return fmt.Errorf("%w: the token is bound to another client certificate", ErrBinding)
		}
	}
	if c.DPoPThumbprint == "" {
		if p.DPoP {
			return fmt.Errorf("%w: the DPoP scheme with a token that is not DPoP-bound", ErrBinding)
		}
		return nil
	}
	if !p.DPoP || p.DPoPProof == "" {
		return fmt.Errorf("%w: a DPoP-bound token needs the DPoP scheme and one DPoP proof", ErrBinding)
	}
	pc, jkt, err := verifyProof(p.DPoPProof)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBinding, err)
	}
	switch {
	case jkt != c.DPoPThumbprint:
		return fmt.Errorf("%w: the DPoP proof is signed by another key", ErrBinding)
	case pc.HTM != p.Method || !sameURL(pc.HTU, p.URL):
		return fmt.Errorf("%w: the DPoP proof is for another request", ErrBinding)
	case pc.ATH != tokenHash(token):
		return fmt.Errorf("%w: the DPoP proof is for another token", ErrBinding)
	}
	iat := pc.IssuedAt.Time()
	if d := now.Sub(iat); d > v.leeway || d < -v.leeway {
		return fmt.Errorf("%w: the DPoP proof is stale", ErrBinding)
	}
	if !v.firstUse(jkt+"\x00"+pc.JTI, iat.Add(v.leeway), now) {
		return fmt.Errorf("%w: the DPoP proof was replayed", ErrBinding)
	}
	return nil
}

// maxSeen bounds the DPoP proofs remembered; when full, expired ones are
// dropped and, if none has, new proofs are refused.
const maxSeen = 1 << 20

func (v *Verifier) firstUse(key string, until, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if exp, ok := v.seen[key]; ok && now.Before(exp) {
		return false
	}
	if len(v.seen) >= maxSeen {
		for k, exp := range v.seen {
			if !now.Before(exp) {
				delete(v.seen, k)
			}
		}
		if len(v.seen) >= maxSeen {
			return false
		}
	}
	v.seen[key] = until
	return true
}

type claimsKey struct{}

// Middleware returns a handler that verifies every request's token before
// calling next with the claims in the request's context (see
// [ClaimsFromContext]). It answers a missing or bad token with 401 and a
// WWW-Authenticate challenge (RFC 6750 §3, RFC 9449 §7.1), and a failure to
// fetch the issuer's keys with 503.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Verify(r)
		if err != nil {
			writeVerifyError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}

// writeVerifyError is the middleware's one mapping from a verification
// error to an answer; the error's text is not sent.
func writeVerifyError(w http.ResponseWriter, err error) {
	challenge := `Bearer realm="kith", DPoP algs="ES256 ES384 ES512 RS256 PS256 EdDSA"`
	status := http.StatusUnauthorized
	switch {
	case errors.Is(err, ErrNoToken):
	case errors.Is(err, ErrBinding):
		challenge = `DPoP error="invalid_dpop_proof", algs="ES256 ES384 ES512 RS256 PS256 EdDSA"`
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrUnknownKey), errors.Is(err, ErrExpired), errors.Is(err, ErrRevoked):
		challenge = `Bearer realm="kith", error="invalid_token"`
	default:
		status, challenge = http.StatusServiceUnavailable, ""
	}
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	http.Error(w, http.StatusText(status), status)
}

// ClaimsFromContext returns the claims [Verifier.Middleware] put in ctx,
// or nil.
func ClaimsFromContext(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}
