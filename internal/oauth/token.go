package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
)

// reqInfo is what the audit trail records of a token request, filled in as
// the request is understood.
type reqInfo struct {
	source string
	grant  string
	// clientID is the client the request claimed, in the form the ledger
	// may hold (see recordedClaim).
	clientID string
	auth     *authResult
	// trust is the client's trust, when a TrustSource was asked, and
	// trustNote what it changed.
	trust     *policy.Trust
	trustNote string
}

// key returns the audit key of an event about the request.
func (ri *reqInfo) key(typ, action string, outcome audit.Outcome, reason string) auditKey {
	k := auditKey{typ: typ, action: action, outcome: outcome, clientID: ri.clientID,
		grant: ri.grant, reason: reason, source: ri.source}
	if a := ri.auth; a != nil {
		k.clientID, k.entryID, k.method, k.credID = string(a.client.ID), a.entry.ID, string(a.method), a.credID
	}
	if t := ri.trust; t != nil {
		k.trustLevel, k.trustScore, k.trustNote = t.Level, t.Score, ri.trustNote
		if k.trustLevel == "" {
			k.trustLevel = "unknown"
		}
	}
	return k
}

// grant is what a grant decided: the token's subject, scopes, audience,
// actor chain and assurance, and a cap on its expiry.
type grant struct {
	subject   string
	scopes    []string
	audience  []string
	act       *actor
	acr       string
	notAfter  time.Time // zero: no cap
	exchanged bool
}

// tokenResponse is a successful token response (RFC 6749 §5.1, RFC 8693
// §2.2.1).
type tokenResponse struct {
	accessToken     string
	tokenType       string
	expiresIn       int64
	scope           string
	issuedTokenType string
}

func (t *tokenResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"access_token":`...)
	b = appendString(b, t.accessToken)
	b = append(b, `,"token_type":`...)
	b = appendString(b, t.tokenType)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, t.expiresIn, 10)
	if t.scope != "" {
		b = append(b, `,"scope":`...)
		b = appendString(b, t.scope)
	}
	if t.issuedTokenType != "" {
		b = append(b, `,"issued_token_type":`...)
		b = appendString(b, t.issuedTokenType)
	}
	return append(b, "}\n"...)
}

// handleToken serves POST /oauth2/token.
func (s *Service) handleToken(w http.ResponseWriter, r *http.Request) {
	now := s.clock()
	ri := &reqInfo{source: sourceKey(r)}
	resp, err := s.token(r, ri, now)
	if err != nil {
		s.refused(ri, audit.TypeOAuthTokenRefused, "issue", err)
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if s.cfg.RequireDPoPNonce && resp.tokenType == "DPoP" {
		h.Set("DPoP-Nonce", s.nonces.current(now))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(resp.appendJSON(make([]byte, 0, len(resp.accessToken)+128)))
}

// token runs a token request to its response.
func (s *Service) token(r *http.Request, ri *reqInfo, now time.Time) (*tokenResponse, error) {
	if s.audit.full() {
		return nil, errAuditBacklog
	}
	form, err := readForm(r)
	if err != nil {
		return nil, err
	}
	req, err := parseTokenRequest(form)
	if err != nil {
		return nil, err
	}
	ri.grant = req.grantType
	auth, err := s.authenticateRequest(r, form, ri, PathToken, true, now)
	if err != nil {
		return nil, err
	}
	proof, err := s.checkDPoP(r, auth.client.ID, now)
	if err != nil {
		return nil, err
	}
	var g *grant
	switch req.grantType {
	case grantClientCredentials:
		g, err = s.clientCredentials(auth, req)
	case grantTokenExchange:
		g, err = s.exchange(r.Context(), auth, req, now)
	}
	if err != nil {
		return nil, err
	}
	if err := s.applyTrust(ri, auth, g, req.scope != nil, now); err != nil {
		return nil, err
	}
	return s.issue(r.Context(), ri, auth, g, proof, now)
}

// authenticateRequest reads the request's credentials and authenticates
// its client under the brute-force guard (see bruteForceGuard): a request
// naming a client whose failure budget is empty is refused before its
// credentials are checked, unless it comes from a source the client
// authenticated from; a failure is charged to its source and to the
// client it named, and answered 429 while the source is over its budget.
// A request that authenticates is never refused for others' failures.
// With rateLimit, the client's token request rate limit applies next;
// then the assertion's jti, if any, is remembered (useOnce).
func (s *Service) authenticateRequest(r *http.Request, form url.Values, ri *reqInfo, endpoint string, rateLimit bool, now time.Time) (*authResult, error) {
	g := s.limits.guard
	creds, err := readCredentials(r, form)
	if err != nil {
		ri.clientID = recordedClaim(firstNonEmpty(creds.clientID, creds.basicID))
		return nil, s.authFailed(ri, "", false, err, now)
	}
	peer, peerErr := s.verifyPeer(r, now)
	var a *assertion
	var aErr error
	if creds.assertion != "" {
		a, aErr = parseAssertion(creds.assertion)
	}
	claim := claimOf(creds, peer, a)
	ri.clientID = claim
	if ok, retry := g.admit(ri.source, claim, now); !ok {
		return nil, &protocolError{code: codeTemporarily, retryAfter: retry,
			desc: "too many failed authentications of this client; retry later"}
	}
	gen := s.clients.generation()
	auth, claimed, err := s.authenticate(r.Context(), creds, peer, a, aErr, endpoint, now)
	ri.clientID = claimed
	if err != nil {
		var pe *protocolError
		if !errors.As(err, &pe) {
			return nil, err // the server failed, not the client
		}
		if peerErr != nil && pe.code == codeInvalidClient && peer == nil &&
			!creds.basic && creds.postSecret == "" && creds.assertion == "" {
			pe.cause = peerErr // tls_client_auth with a certificate that does not verify
		}
		return nil, s.authFailed(ri, claim, !errors.Is(err, ErrNotFound), err, now)
	}
	auth.gen = gen
	ri.auth = auth
	if rateLimit {
		if ok, retry := s.limits.client.take(string(auth.client.ID), now); !ok {
			return nil, rateLimited(retry)
		}
	}
	if err := s.useOnce(auth, now); err != nil {
		if pe := (*protocolError)(nil); errors.As(err, &pe) && pe.code == codeInvalidClient {
			return nil, s.authFailed(ri, claim, true, err, now) // a replayed assertion
		}
		return nil, err
	}
	g.succeeded(ri.source, claim, now)
	return auth, nil
}

// authFailed charges a failed authentication from the request's source
// naming claim (which exists, or not) to the brute-force guard, and
// returns the error to answer: err, or 429 while the source is over its
// failure budget. That refusal is recorded without the client the request
// named, so that a source's failures coalesce in the ledger whatever they
// name.
func (s *Service) authFailed(ri *reqInfo, claim string, exists bool, err error, now time.Time) error {
	over, retry := s.limits.guard.failed(ri.source, claim, exists, now)
	if !over {
		return err
	}
	ri.clientID = ""
	return &protocolError{code: codeTemporarily, retryAfter: retry,
		desc: "too many failed client authentications from this address; retry later"}
}

// clientCredentials grants a client's own token (RFC 6749 §4.4): the
// requested scopes, all within the client's scopes and its entry's max
// scopes (all of them when none are requested), for the requested
// resources, all among the client's audiences (all of them when none are
// requested).
func (s *Service) clientCredentials(auth *authResult, req *tokenRequest) (*grant, error) {
	allowed := intersect(auth.client.Scopes, auth.entry.MaxScopes)
	scopes, err := narrowScopes(req.scope, allowed)
	if err != nil {
		return nil, err
	}
	aud, err := s.audienceFor(auth, req.resources)
	if err != nil {
		return nil, err
	}
	return &grant{subject: auth.entry.SPIFFEID.String(), scopes: scopes, audience: aud, acr: auth.method.acr()}, nil
}

// narrowScopes returns the requested scopes if all are allowed, allowed
// if none were requested, or invalid_scope.
func narrowScopes(requested, allowed []string) ([]string, error) {
	if requested == nil {
		return allowed, nil
	}
	for _, sc := range requested {
		if !slices.Contains(allowed, sc) {
			return nil, invalidScope("scope %q is not granted to this client", truncate(sc))
		}
	}
	return requested, nil
}

// audienceFor returns the audience of a token for the requested
// resources, each of which the client must be allowed to reach; all the
// client's audiences when none are requested.
func (s *Service) audienceFor(auth *authResult, resources []string) ([]string, error) {
	if len(resources) == 0 {
		return auth.client.Audiences, nil
	}
	for _, res := range resources {
		if !slices.Contains(auth.client.Audiences, res) {
			return nil, invalidTarget("this client may not obtain tokens for %q", truncate(res))
		}
	}
	return resources, nil
}

// intersect returns the members of a that are in b, in a's order.
func intersect(a, b []string) []string {
	out := make([]string, 0, len(a))
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// errBornRevoked refuses a token the revocation set would cover from the
// start: its client's or subject's credentials are revoked up to this
// second (or held, while a change of its entry reaches this replica).
var errBornRevoked = &protocolError{code: codeTemporarily, status: http.StatusServiceUnavailable, retryAfter: time.Second,
	desc: "tokens of this client issued now would be revoked; retry in a second"}

// issue signs the access token of a grant, bound to the client's
// certificate and DPoP key if it presented them, and returns it once its
// audit event is in the ledger (queued, with BatchIssuanceAudit). No token
// is issued that the revocation set covers already, nor for an entry that
// a change this replica learned of since the request read it made
// inactive.
func (s *Service) issue(ctx context.Context, ri *reqInfo, auth *authResult, g *grant, proof *dpopProof, now time.Time) (*tokenResponse, error) {
	if s.cfg.Revocations.Revoked(kindClient, string(auth.client.ID), now) ||
		s.cfg.Revocations.Revoked(revocation.KindSPIFFEID, g.subject, now) {
		return nil, errBornRevoked
	}
	key := s.keys.signer()
	jti, err := newJTI()
	if err != nil {
		return nil, err
	}
	exp := now.Add(s.cfg.TokenTTL)
	if !g.notAfter.IsZero() && g.notAfter.Before(exp) {
		exp = g.notAfter
	}
	c := accessClaims{
		Issuer: s.cfg.Issuer, Subject: g.subject, Audience: g.audience,
		Expiry: exp.Unix(), IssuedAt: now.Unix(), JTI: jti, ClientID: string(auth.client.ID),
		Scope: strings.Join(g.scopes, " "), ACR: g.acr, Act: g.act,
	}
	resp := &tokenResponse{tokenType: "Bearer", expiresIn: c.Expiry - c.IssuedAt, scope: c.Scope}
	var binding []string
	if auth.peer != nil {
		c.Cnf = &confirmation{X5T: auth.peer.Thumbprint}
		binding = append(binding, "x5t#S256")
	}
	if proof != nil {
		if c.Cnf == nil {
			c.Cnf = &confirmation{}
		}
		c.Cnf.JKT = proof.JKT
		resp.tokenType = "DPoP"
		binding = append(binding, "jkt")
	}
	if g.exchanged {
		resp.issuedTokenType = tokenTypeAccessToken
	}
	if resp.accessToken, err = key.sign(c.appendJSON(make([]byte, 0, 512))); err != nil {
		return nil, err
	}
	if err := s.recheckEntry(ctx, auth); err != nil {
		return nil, err
	}
	k := ri.key(audit.TypeOAuthTokenIssued, "issue", audit.OutcomeSuccess, "")
	k.scope, k.audience, k.acr, k.binding = c.Scope, strings.Join(g.audience, " "), g.acr, strings.Join(binding, " ")
	if g.act != nil {
		k.reason = "on behalf of " + g.subject
	}
	if s.cfg.BatchIssuanceAudit {
		err = s.audit.add(k, jti)
	} else {
		err = s.audit.addDurable(ctx, k, jti)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// recheckEntry reads the entry of an authenticated client again if the
// entries changed since the request read it, and refuses the token if the
// entry is no longer active: a quarantine that committed while the
// request was under way stops its token here, on this replica.
func (s *Service) recheckEntry(ctx context.Context, auth *authResult) error {
	if s.clients.generation() == auth.gen {
		return nil
	}
	e, err := s.clients.freshEntry(ctx, auth.entry.ID)
	if err != nil {
		return lookupFailed(err)
	}
	if e.Status != registry.StatusActive {
		return invalidClient(fmt.Errorf("entry %s is %s", e.ID, e.Status))
	}
	return nil
}

// refused queues the audit event of a refused request.
func (s *Service) refused(ri *reqInfo, typ, action string, err error) {
	outcome, reason := audit.OutcomeDenied, "internal error"
	var pe *protocolError
	if errors.As(err, &pe) {
		reason = pe.code + ": " + truncateReason(redactSecrets(pe.reason()))
	} else {
		outcome = audit.OutcomeFailure
	}
	// A refusal that cannot be queued is dropped: the request fails
	// anyway, and a full queue is itself logged by the flusher.
	_ = s.audit.add(ri.key(typ, action, outcome, reason), "")
}

// truncateReason bounds a refusal reason.
func truncateReason(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// clientLive reports whether the token's client exists and its entry is
// active.
func (s *Service) clientLive(ctx context.Context, id string) (bool, error) {
	cl, err := s.clients.client(ctx, ClientID(id))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = s.authorize(ctx, cl, cl.AuthMethod, "", nil)
	if err == nil {
		return true, nil
	}
	if pe := (*protocolError)(nil); errors.As(err, &pe) {
		return false, nil
	}
	return false, err
}
