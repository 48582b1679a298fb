package enforce

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/policy"
)

// Revocations answers whether a credential is revoked; see
// authn.RevocationChecker. The data plane's view implements it.
type Revocations interface {
	IsRevoked(kind, value string, issuedAt time.Time) bool
}

// Decider decides a call; *policy.Engine implements it.
type Decider interface {
	Decide(in *policy.Input) policy.Decision
}

// TrustSource gives a caller's current trust state, keyed by its SPIFFE
// ID (or client ID without one).
type TrustSource interface {
	Trust(caller string) policy.Trust
}

// Config configures an [Enforcer]. Zero values are documented defaults.
type Config struct {
	// Target is the SPIFFE ID of the protected service; tokens must name
	// it in their audience. Required.
	Target spiffeid.ID
	// Bundles gives the X.509 bundles of the own and federated trust
	// domains. Required.
	Bundles x509bundle.Source
	// Revocations is the revocation set; required (fail closed).
	Revocations Revocations
	// Policy decides calls. Required.
	Policy Decider
	// Issuer is the token service's issuer; empty means this target
	// accepts no access tokens and refuses calls that present one.
	Issuer string
	// Issuers, if set, gives the issuer instead of Issuer, read on every
	// call that presents a token, so that an issuer the server publishes
	// or changes after start takes effect without a restart (the
	// data-plane view is one). Tokens verified under an earlier issuer
	// are not taken from the cache.
	Issuers IssuerSource
	// Keys gives the issuer's token-signing keys; required with Issuer or
	// Issuers.
	Keys authn.KeySource
	// Trust gives callers' trust states; nil gives every caller the zero
	// state (score 0).
	Trust TrustSource
	// AllowNoClientCert lets callers without an X509-SVID in (gateway
	// mode); they must then present an access token.
	AllowNoClientCert bool
	// URL returns the URL a request was sent to, for DPoP proofs; nil
	// means https://<Host><path>.
	URL func(r *http.Request) string
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// MaxRateLimitKeys bounds the per-caller token buckets held; 65536
	// when zero.
	MaxRateLimitKeys int
	// CacheTTL bounds how long the signature verification of a client
	// certificate chain or of an access token is reused for later calls
	// presenting the same certificate or token (never past the
	// credential's expiry); 30 seconds when zero, and a negative value
	// turns the caches off. The revocation set, the trust domain's bundle
	// and a token's certificate binding are checked on every call
	// regardless, so a revocation bites on the next call. A trust bundle
	// losing one of its authorities takes up to CacheTTL to bite.
	CacheTTL time.Duration
	// MaxCacheEntries bounds each cache (certificates, tokens); 8192
	// when zero.
	MaxCacheEntries int
}

// IssuerSource gives the token service's current issuer ("" for none).
type IssuerSource interface {
	Issuer() string
}

// issuerVerifier is the token verifier of one issuer, with the tokens it
// verified and the DPoP proofs it saw.
type issuerVerifier struct {
	issuer string
	v      *authn.TokenVerifier // nil when issuer is ""
}

// tokenLeeway is the clock skew tolerated on tokens' exp and iat and on
// DPoP proofs' iat.
const tokenLeeway = time.Minute

// Enforcer verifies and decides calls to one target. It is safe for
// concurrent use.
type Enforcer struct {
	cfg      Config
	target   string
	peers    *authn.X509Verifier
	verifier atomic.Pointer[issuerVerifier]
	limits   *limiter
	cacheMax int // MaxCacheEntries, 0 when caching is off
}

// New returns an Enforcer for cfg. It returns an error when a required
// field is missing.
func New(cfg Config) (*Enforcer, error) {
	switch {
	case cfg.Target.IsZero():
		return nil, errors.New("enforce: Config.Target is required")
	case cfg.Bundles == nil || cfg.Revocations == nil || cfg.Policy == nil:
		return nil, errors.New("enforce: Config needs Bundles, Revocations and Policy")
	case (cfg.Issuer != "" || cfg.Issuers != nil) && cfg.Keys == nil:
		return nil, errors.New("enforce: Config.Keys is required with an Issuer")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxRateLimitKeys == 0 {
		cfg.MaxRateLimitKeys = 1 << 16
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 30 * time.Second
	}
	if cfg.MaxCacheEntries <= 0 {
		cfg.MaxCacheEntries = 8192
	}
	e := &Enforcer{cfg: cfg, target: cfg.Target.String(), limits: newLimiter(cfg.MaxRateLimitKeys)}
	if cfg.CacheTTL > 0 {
		e.cacheMax = cfg.MaxCacheEntries
	}
	var err error
	e.peers, err = authn.NewX509Verifier(authn.X509Config{Bundles: cfg.Bundles, Revocations: cfg.Revocations,
		MaxCacheEntries: e.cacheMax, CacheTTL: cfg.CacheTTL})
	if err != nil {
		return nil, fmt.Errorf("enforce: %w", err)
	}
	if _, err := e.tokenVerifier(); err != nil {
		return nil, err
	}
	return e, nil
}

// tokenVerifier returns the verifier of the current issuer (nil when
// there is none), building it when the issuer changed: a token verified
// under an earlier issuer is verified again.
func (e *Enforcer) tokenVerifier() (*issuerVerifier, error) {
	iss := e.cfg.Issuer
	if e.cfg.Issuers != nil {
		iss = e.cfg.Issuers.Issuer()
	}
	if cur := e.verifier.Load(); cur != nil && cur.issuer == iss {
		return cur, nil
	}
	next := &issuerVerifier{issuer: iss}
	if iss != "" {
		v, err := authn.NewTokenVerifier(authn.TokenConfig{
			Issuer: iss, Audience: e.target, Keys: e.cfg.Keys, Revocations: e.cfg.Revocations,
			ExpiryLeeway: tokenLeeway, IssuedAtLeeway: tokenLeeway, DPoPWindow: tokenLeeway,
			MaxCacheEntries: e.cacheMax, CacheTTL: e.cfg.CacheTTL,
		})
		if err != nil {
			return nil, fmt.Errorf("enforce: %w", err)
		}
		next.v = v
	}
	e.verifier.Store(next)
	return next, nil
}

// Target returns the SPIFFE ID of the protected service.
func (e *Enforcer) Target() spiffeid.ID { return e.cfg.Target }

// Revocations returns the revocation set the Enforcer asks on every call
// (Config.Revocations). A proxy that can also follow the set's changes
// (the data-plane view signals them) uses it to close the connections of
// peers revoked after they connected.
func (e *Enforcer) Revocations() Revocations { return e.cfg.Revocations }

// Check verifies and decides the HTTP call r: its TLS peer chain
// (r.TLS.PeerCertificates), its access token and its method, host, path
// and headers. It never returns an error: a refusal is a [Result] whose
// Reason, Status, Header and Body say how to answer, and whose Err keeps
// the internal cause.
func (e *Enforcer) Check(r *http.Request) *Result {
	res := &Result{}
	var peer []*x509.Certificate
	if r.TLS != nil {
		peer = r.TLS.PeerCertificates
	}
	now := e.cfg.Clock()
	if !e.verifyPeer(res, peer, now) {
		return res
	}
	var tok policy.Token
	if r.Header.Get("Authorization") != "" {
		if !e.verifyToken(res, r, now, &tok) {
			return res
		}
	} else if res.Caller.SPIFFEID.IsZero() {
		return res.refuse(ReasonNoToken, errors.New("no client certificate and no access token"), nil, 0)
	}
	in := policy.Input{
		Target: e.target,
		Token:  tok,
		Request: policy.Request{
			Method: r.Method, Host: r.Host, Path: r.URL.Path, Headers: policyHeaders(r.Header),
		},
	}
	return e.decide(res, &in)
}

// CheckConn verifies and decides a non-HTTP connection from the peer
// presenting peer: its X509-SVID and an identity-only policy decision,
// with the request method "CONNECT" and path "/". It returns the Result
// as [Enforcer.Check] does.
func (e *Enforcer) CheckConn(peer []*x509.Certificate) *Result {
	res := &Result{}
	if !e.verifyPeer(res, peer, e.cfg.Clock()) {
		return res
	}
	if res.Caller.SPIFFEID.IsZero() {
		return res.refuse(ReasonNoClientCert, authn.ErrNoX509SVID, nil, 0)
	}
	in := policy.Input{Target: e.target, Request: policy.Request{Method: "CONNECT", Path: "/"}}
	return e.decide(res, &in)
}

// verifyPeer verifies the peer chain into res, or refuses res. A chain
// whose signatures were verified before is not verified again (see
// [Config.CacheTTL]), but its trust domain must still have a bundle and
// the revocation set is asked on every call.
func (e *Enforcer) verifyPeer(res *Result, peer []*x509.Certificate, now time.Time) bool {
	if len(peer) == 0 && e.cfg.AllowNoClientCert {
		return true
	}
	p, err := e.peers.Verify(peer, now)
	if err != nil {
		return e.refusePeer(res, err)
	}
	res.Caller.SPIFFEID = p.ID
	res.Credential = Credential{ID: p.Serial, Type: CredX509SVID}
	return true
}

// refusePeer refuses res for the peer verification error err.
func (e *Enforcer) refusePeer(res *Result, err error) bool {
	reason := ReasonBadClientCert
	switch {
	case errors.Is(err, authn.ErrNoX509SVID):
		reason = ReasonNoClientCert
	case errors.Is(err, authn.ErrUntrustedDomain):
		reason = ReasonUntrustedDomain
	case errors.Is(err, authn.ErrRevoked):
		reason = ReasonRevokedClientCert
	}
	res.refuse(reason, err, nil, 0)
	return false
}

// verifyToken verifies r's access token into res and tok, or refuses res.
// A token whose signature, issuer and audience were verified before is not
// verified again (see [Config.CacheTTL]), but on every call it must be
// within its lifetime and not revoked (jti, client, subject, actors), and
// its binding is checked in full: the call must come over its
// certificate, or carry a fresh DPoP proof of its key for this request,
// never seen before.
func (e *Enforcer) verifyToken(res *Result, r *http.Request, now time.Time, tok *policy.Token) bool {
	iv, err := e.tokenVerifier()
	if err != nil {
		res.refuse(ReasonUnavailable, err, nil, 0)
		return false
	}
	if iv.v == nil {
		res.refuse(ReasonInvalidToken, errors.New("this target accepts no access tokens"), nil, 0)
		return false
	}
	raw, p, err := authn.Presented(r, e.cfg.URL)
	var c *authn.Claims
	if err == nil {
		c, err = iv.v.Verify(r.Context(), raw, p, now)
	}
	if err != nil {
		reason := ReasonInvalidToken
		switch {
		case errors.Is(err, authn.ErrNoToken):
			reason = ReasonNoToken
		case errors.Is(err, authn.ErrTokenExpired):
			reason = ReasonExpiredToken
		case errors.Is(err, authn.ErrTokenRevoked):
			reason = ReasonRevokedToken
		case errors.Is(err, authn.ErrBinding):
			reason = ReasonTokenBinding
		case errors.Is(err, authn.ErrInvalidToken), errors.Is(err, authn.ErrUnknownKey):
		default:
			reason = ReasonUnavailable
		}
		res.refuse(reason, err, nil, 0)
		return false
	}
	if res.Caller.SPIFFEID.IsZero() {
		id, err := spiffeid.FromString(c.Subject)
		if err != nil {
			res.refuse(ReasonInvalidToken, fmt.Errorf("token subject %q: %w", c.Subject, err), nil, 0)
			return false
		}
		res.Caller.SPIFFEID = id
	}
	// c may be cached and shared by calls: the caller gets its own scopes.
	res.Caller.ClientID, res.Caller.Scopes = c.ClientID, slices.Clone(c.Scopes)
	res.Credential = Credential{ID: c.ID, Type: CredBearer}
	switch {
	case c.DPoPThumbprint != "":
		res.Credential.Type = CredDPoP
	case c.CertThumbprint != "":
		res.Credential.Type = CredMTLS
	}
	*tok = policy.Token{
		Present: true, Subject: c.Subject, Issuer: c.Issuer, Audience: c.Audience, Scopes: c.Scopes, ACR: c.ACR,
		AuthTime: c.IssuedAt.Unix(),
	}
	return true
}

// decide runs policy on in for the caller in res and acts on the
// decision.
func (e *Enforcer) decide(res *Result, in *policy.Input) *Result {
	in.Caller = policy.Caller{SPIFFEID: res.Caller.SPIFFEID.String(), ClientID: res.Caller.ClientID}
	key := in.Caller.SPIFFEID
	if key == "" {
		key = in.Caller.ClientID
	}
	if e.cfg.Trust != nil {
		in.Trust = e.cfg.Trust.Trust(key)
	}
	res.Trust = in.Trust
	now := e.cfg.Clock()
	in.Time = now
	d := e.cfg.Policy.Decide(in)
	res.Decision = d
	if d.Err != nil {
		return res.refuse(ReasonDenied, fmt.Errorf("policy: %w", d.Err), nil, 0)
	}
	switch d.Action {
	case policy.ActionStepUp:
		return res.refuse(ReasonStepUp, errors.New("policy asks for step-up: "+d.Reason), d.Obligations.StepUp, 0)
	case policy.ActionQuarantine:
		return res.refuse(ReasonQuarantined, errors.New("policy quarantines the caller: "+d.Reason), nil, 0)
	}
	if !d.Allowed() {
		return res.refuse(ReasonDenied, errors.New("policy denies: "+d.Reason), nil, 0)
	}
	if rl := d.Obligations.RateLimit; rl != nil {
		if wait, ok := e.limits.allow(d.Rule.String()+"\x00"+key, rl, now); !ok {
			return res.refuse(ReasonRateLimited, fmt.Errorf("rate limit %g/s of %s", rl.RPS, d.Rule), nil, wait)
		}
	}
	if d.Action == policy.ActionRestrict {
		res.Caller.Scopes, res.Caller.Restricted = intersect(res.Caller.Scopes, d.Obligations.Scopes), true
	}
	return res
}

// intersect returns the scopes of have that are in allowed.
func intersect(have, allowed []string) []string {
	out := []string{}
	for _, s := range have {
		for _, a := range allowed {
			if s == a {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// policyHeaders returns h for policy conditions: lower-case names, the
// first value, credentials and Kith's own headers left out.
func policyHeaders(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		lk := strings.ToLower(k)
		switch {
		case lk == "authorization", lk == "dpop", lk == "cookie", lk == "proxy-authorization", strings.HasPrefix(lk, "kith-"):
			continue
		}
		if len(v) > 0 {
			out[lk] = v[0]
		}
	}
	return out
}
