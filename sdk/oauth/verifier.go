package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/authn"
)

// Errors of [Verifier.Verify]; test for them with errors.Is.
var (
	// ErrNoToken: the request carries no access token.
	ErrNoToken = authn.ErrNoToken
	// ErrInvalidToken: the token is malformed, of another type, issuer or
	// audience, lacks a required claim (jti, sub, client_id, exp), or its
	// signature does not verify.
	ErrInvalidToken = authn.ErrInvalidToken
	// ErrExpired: the token is past its exp or not yet valid.
	ErrExpired = authn.ErrTokenExpired
	// ErrRevoked: the revocation set revokes the token.
	ErrRevoked = authn.ErrTokenRevoked
	// ErrBinding: the token is sender-constrained and the request does not
	// prove possession of its certificate or DPoP key.
	ErrBinding = authn.ErrBinding
	// ErrUnknownKey: no published key has the token's key ID.
	ErrUnknownKey = authn.ErrUnknownKey
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

// Verifier checks access tokens for a resource server. It remembers the
// DPoP proofs it accepted, in memory, to refuse their replay. It is safe
// for concurrent use.
type Verifier struct {
	cfg    VerifierConfig
	clock  func() time.Time
	tokens *authn.TokenVerifier
}

// NewVerifier returns a Verifier for cfg. It returns an error if Issuer or
// Audience is empty.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("oauth: VerifierConfig needs Issuer and Audience")
	}
	v := &Verifier{cfg: cfg, clock: cfg.Clock}
	if v.clock == nil {
		v.clock = time.Now
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = time.Minute
	}
	var keys authn.KeySource = cfg.Keys
	if keys == nil {
		hc := cfg.HTTPClient
		if hc == nil {
			hc = http.DefaultClient
		}
		keys = &jwksSource{url: strings.TrimSuffix(cfg.Issuer, "/") + "/oauth2/jwks", hc: hc, clock: v.clock}
	}
	var err error
	v.tokens, err = authn.NewTokenVerifier(authn.TokenConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, Keys: keys,
		Revocations: cfg.Revocations, ExpiryLeeway: leeway, IssuedAtLeeway: leeway, DPoPWindow: leeway})
	if err != nil {
		return nil, err
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
	return authn.Presented(r, v.cfg.URL)
}

// CheckBinding checks that token, whose claims c a previous
// [Verifier.VerifyToken] returned, is presented as its binding demands:
// over its client certificate (RFC 8705), or with a fresh DPoP proof of
// its key for this request and token, not seen before (RFC 9449). It lets
// a caller that caches verified claims skip the token's signature but
// never its proof of possession. It returns an error wrapping
// [ErrBinding].
func (v *Verifier) CheckBinding(c *Claims, token string, p Presentation) error {
	return v.tokens.CheckBinding(c, token, p, v.clock())
}

// Presentation is how a token was presented: over which TLS client
// certificate (ClientCert), and with which DPoP proof (DPoP: sent with the
// DPoP scheme; DPoPProof: the DPoP header) for which request (Method,
// URL).
type Presentation = authn.Presentation

// VerifyToken checks token as presented by p and returns its claims. It
// returns the errors of [Verifier.Verify].
func (v *Verifier) VerifyToken(ctx context.Context, token string, p Presentation) (*Claims, error) {
	return v.tokens.Verify(ctx, token, p, v.clock())
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
