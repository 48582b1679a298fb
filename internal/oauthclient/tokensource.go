package oauthclient

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
)

// JWTSVIDSource gives the workload's JWT-SVIDs; *workloadapi.JWTSource of
// go-spiffe implements it.
type JWTSVIDSource interface {
	FetchJWTSVID(ctx context.Context, params jwtsvid.Params) (*jwtsvid.SVID, error)
}

// Config configures a [TokenSource]. Exactly one credential is used:
// JWTSVIDs, Key, Secret, or, when none is set, the client certificate of
// HTTPClient (tls_client_auth).
type Config struct {
	// TokenURL is the token endpoint, such as
	// "https://kith.example.org/oauth2/token". Required.
	TokenURL string
	// ClientID is the OAuth client ID. Required except with JWTSVIDs or
	// tls_client_auth when the workload has a single client.
	ClientID string
	// Secret is the client secret, sent with HTTP Basic authentication.
	Secret string
	// Key and KeyID sign private_key_jwt assertions (RFC 7523). The key
	// is an ECDSA, RSA or Ed25519 private key registered with the client.
	Key   crypto.Signer
	KeyID string
	// JWTSVIDs gives the workload's JWT-SVIDs, sent as client assertions;
	// their audience is the issuer (TokenURL without its path).
	JWTSVIDs JWTSVIDSource
	// Scopes and Resources (RFC 8707) narrow the tokens asked for; empty
	// asks for everything the client may hold.
	Scopes    []string
	Resources []string
	// DPoPKey, if set, binds tokens to this key (RFC 9449).
	DPoPKey crypto.Signer
	// HTTPClient sends the token requests; it must trust the server and,
	// for tls_client_auth or certificate-bound tokens, present the
	// workload's X509-SVID. http.DefaultClient when nil.
	HTTPClient *http.Client
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// Token is an access token.
type Token struct {
	AccessToken string
	// TokenType is "Bearer" or "DPoP".
	TokenType string
	Expiry    time.Time
	Scopes    []string
}

// TokenSource obtains access tokens and caches them until a refresh point
// drawn between 70% and 85% of their lifetime. It is safe for concurrent
// use; concurrent callers share one request.
type TokenSource struct {
	cfg    Config
	hc     *http.Client
	clock  func() time.Time
	issuer string
	dpop   *dpopSigner

	mu      sync.Mutex
	tok     *Token
	refresh time.Time
}

// New returns a TokenSource for cfg. It returns an error if TokenURL is
// not an https URL, if several credentials are set, if a Key lacks its
// KeyID, if a Secret or Key lacks the ClientID, or if DPoPKey is of an
// unsupported type.
func New(cfg Config) (*TokenSource, error) {
	u, err := url.Parse(cfg.TokenURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("oauth: TokenURL %q is not an https URL", cfg.TokenURL)
	}
	n := 0
	for _, set := range []bool{cfg.Secret != "", cfg.Key != nil, cfg.JWTSVIDs != nil} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, errors.New("oauth: set only one of Secret, Key and JWTSVIDs")
	case cfg.Key != nil && cfg.KeyID == "":
		return nil, errors.New("oauth: Key needs its KeyID")
	case (cfg.Secret != "" || cfg.Key != nil) && cfg.ClientID == "":
		return nil, errors.New("oauth: a secret or key needs the ClientID")
	}
	ts := &TokenSource{cfg: cfg, hc: cfg.HTTPClient, clock: cfg.Clock, issuer: u.Scheme + "://" + u.Host}
	if ts.hc == nil {
		ts.hc = http.DefaultClient
	}
	if ts.clock == nil {
		ts.clock = time.Now
	}
	if cfg.DPoPKey != nil {
		if ts.dpop, err = newDPoPSigner(cfg.DPoPKey); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// Token returns a valid token: the cached one before its refresh point, a
// fresh one after. If a refresh fails while the cached token has more than
// 10 seconds left, the cached token is returned. It returns a *TokenError
// when the server refuses, or the transport's error.
func (ts *TokenSource) Token(ctx context.Context) (*Token, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := ts.clock()
	if ts.tok != nil && now.Before(ts.refresh) {
		return ts.tok, nil
	}
	tok, err := ts.fetch(ctx, now)
	if err != nil {
		if ts.tok != nil && now.Add(10*time.Second).Before(ts.tok.Expiry) {
			return ts.tok, nil
		}
		return nil, err
	}
	life := tok.Expiry.Sub(now)
	ts.tok, ts.refresh = tok, now.Add(life*70/100+jitter(life*15/100))
	return tok, nil
}

// jitter returns a random duration in [0, d), from crypto/rand.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d)))
	if err != nil {
		return d / 2
	}
	return time.Duration(n.Int64())
}

// TokenError is an OAuth error answer of the token endpoint.
type TokenError struct {
	StatusCode  int
	Code        string // error, such as "invalid_client"
	Description string
	RetryAfter  time.Duration // for 429 answers
	nonce       string        // the DPoP-Nonce of a use_dpop_nonce answer
}

// Error returns the status and the OAuth error.
func (e *TokenError) Error() string {
	s := fmt.Sprintf("oauth: token endpoint: %d %s", e.StatusCode, e.Code)
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// fetch asks the token endpoint for a token, once more with the server's
// nonce if it asks for one.
func (ts *TokenSource) fetch(ctx context.Context, now time.Time) (*Token, error) {
	nonce := ""
	for attempt := 0; ; attempt++ {
		tok, err := ts.request(ctx, now, nonce)
		var te *TokenError
		if attempt == 0 && errors.As(err, &te) && te.Code == "use_dpop_nonce" && ts.dpop != nil {
			nonce = te.nonce
			continue
		}
		return tok, err
	}
}

func (ts *TokenSource) request(ctx context.Context, now time.Time, nonce string) (*Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(ts.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(ts.cfg.Scopes, " "))
	}
	for _, r := range ts.cfg.Resources {
		form.Add("resource", r)
	}
	if err := ts.authenticate(ctx, form, now); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("oauth: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if ts.cfg.Secret != "" {
		req.SetBasicAuth(url.QueryEscape(ts.cfg.ClientID), url.QueryEscape(ts.cfg.Secret))
	}
	if ts.dpop != nil {
		p, err := ts.dpop.proof(http.MethodPost, ts.cfg.TokenURL, now, "", nonce)
		if err != nil {
			return nil, err
		}
		req.Header.Set("DPoP", p)
	}
	resp, err := ts.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oauth: token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("oauth: token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, tokenError(resp, body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" || out.ExpiresIn <= 0 {
		return nil, fmt.Errorf("oauth: malformed token response")
	}
	tok := &Token{AccessToken: out.AccessToken, TokenType: out.TokenType, Expiry: now.Add(time.Duration(out.ExpiresIn) * time.Second)}
	if out.Scope != "" {
		tok.Scopes = strings.Split(out.Scope, " ")
	}
	return tok, nil
}

func tokenError(resp *http.Response, body []byte) error {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.Unmarshal(body, &e)
	te := &TokenError{StatusCode: resp.StatusCode, Code: e.Error, Description: e.Description, nonce: resp.Header.Get("DPoP-Nonce")}
	if s, err := time.ParseDuration(resp.Header.Get("Retry-After") + "s"); err == nil {
		te.RetryAfter = s
	}
	return te
}

// authenticate adds the client authentication parameters to form.
func (ts *TokenSource) authenticate(ctx context.Context, form url.Values, now time.Time) error {
	if ts.cfg.ClientID != "" && ts.cfg.Secret == "" {
		form.Set("client_id", ts.cfg.ClientID)
	}
	switch {
	case ts.cfg.Key != nil:
		a, err := ts.assertion(now)
		if err != nil {
			return err
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", a)
	case ts.cfg.JWTSVIDs != nil:
		svid, err := ts.cfg.JWTSVIDs.FetchJWTSVID(ctx, jwtsvid.Params{Audience: ts.issuer})
		if err != nil {
			return fmt.Errorf("oauth: fetch JWT-SVID: %w", err)
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe")
		form.Set("client_assertion", svid.Marshal())
	}
	return nil
}

// assertion signs a private_key_jwt assertion valid for a minute.
func (ts *TokenSource) assertion(now time.Time) (string, error) {
	alg, err := algorithmFor(ts.cfg.Key.Public())
	if err != nil {
		return "", err
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: ts.cfg.Key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", ts.cfg.KeyID))
	if err != nil {
		return "", fmt.Errorf("oauth: assertion signer: %w", err)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	return jwt.Signed(s).Claims(jwt.Claims{
		Issuer: ts.cfg.ClientID, Subject: ts.cfg.ClientID, Audience: jwt.Audience{ts.cfg.TokenURL},
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now),
		ID: base64.RawURLEncoding.EncodeToString(id[:]),
	}).Serialize()
}

// Transport returns a RoundTripper that sends every request through base
// (http.DefaultTransport when nil) with a token in its Authorization
// header and, for DPoP tokens, a proof of possession bound to the request
// and the token.
func (ts *TokenSource) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{ts: ts, base: base}
}

type transport struct {
	ts   *TokenSource
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.ts.Token(req.Context())
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	if tok.TokenType == "DPoP" && t.ts.dpop != nil {
		p, err := t.ts.dpop.proof(req.Method, req.URL.String(), t.ts.clock(), tok.AccessToken, "")
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "DPoP "+tok.AccessToken)
		req.Header.Set("DPoP", p)
	} else {
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	}
	return t.base.RoundTrip(req)
}
