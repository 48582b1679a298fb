package oauth

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/revocation"
)

// Revocation kinds the service writes.
const (
	kindJTI    = revocation.KindJTI
	kindClient = revocation.KindClientID
)

// revocationKinds is the revocation set as package authn asks it, by the
// kinds' wire names.
type revocationKinds struct{ Revocations }

// IsRevoked reports whether the set revokes the credential of kind (a
// wire name; an unknown one is never revoked) and value issued at
// issuedAt.
func (r revocationKinds) IsRevoked(kind, value string, issuedAt time.Time) bool {
	k, err := revocation.ParseKind(kind)
	return err == nil && r.Revoked(k, value, issuedAt)
}

// introspection is the answer of the introspection endpoint (RFC 7662
// §2.2).
type introspection struct {
	Active    bool          `json:"active"`
	Scope     string        `json:"scope,omitempty"`
	ClientID  string        `json:"client_id,omitempty"`
	TokenType string        `json:"token_type,omitempty"`
	Exp       int64         `json:"exp,omitempty"`
	Iat       int64         `json:"iat,omitempty"`
	Sub       string        `json:"sub,omitempty"`
	Aud       audience      `json:"aud,omitempty"`
	Iss       string        `json:"iss,omitempty"`
	JTI       string        `json:"jti,omitempty"`
	ACR       string        `json:"acr,omitempty"`
	Cnf       *confirmation `json:"cnf,omitempty"`
	Act       *actor        `json:"act,omitempty"`
}

// handleIntrospect serves POST /oauth2/introspect. The caller must
// authenticate as a client, and learns about a token only if it is the
// token's client or named in its audience (by SPIFFE ID or client ID);
// for any other token, as for invalid, expired and revoked ones, the
// answer is {"active":false}.
func (s *Service) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	now := s.clock()
	ri := &reqInfo{source: sourceKey(r), grant: "introspection"}
	out, err := s.introspect(r, ri, now)
	if err != nil {
		s.refused(ri, audit.TypeOAuthIntrospectionRefused, "introspect", err)
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) introspect(r *http.Request, ri *reqInfo, now time.Time) (*introspection, error) {
	form, auth, err := s.readAuthenticated(r, ri, PathIntrospect, now)
	if err != nil {
		return nil, err
	}
	raw := form.Get("token")
	if raw == "" {
		return nil, invalidRequest("token is required")
	}
	c, err := s.tokens.Parse(r.Context(), raw, now)
	if err != nil || s.tokens.CheckRevocation(c) != nil {
		return &introspection{}, nil
	}
	self := []string{auth.entry.SPIFFEID.String(), string(auth.client.ID)}
	if c.ClientID != string(auth.client.ID) && !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(self, a) }) {
		return &introspection{}, nil
	}
	live, err := s.clientLive(r.Context(), c.ClientID)
	if err != nil {
		return nil, err
	}
	if !live {
		return &introspection{}, nil
	}
	out := &introspection{
		Active: true, Scope: strings.Join(c.Scopes, " "), ClientID: c.ClientID, TokenType: "Bearer",
		Exp: c.Expiry.Unix(), Iat: c.IssuedAt.Unix(), Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer, JTI: c.ID,
		ACR: c.ACR, Cnf: confirmationOf(c), Act: actorOf(c.Actor),
	}
	if c.DPoPThumbprint != "" {
		out.TokenType = "DPoP"
	}
	return out, nil
}

// readAuthenticated reads the form of an introspection or revocation
// request and authenticates its client.
func (s *Service) readAuthenticated(r *http.Request, ri *reqInfo, endpoint string, now time.Time) (url.Values, *authResult, error) {
	form, err := readForm(r)
	if err != nil {
		return nil, nil, err
	}
	auth, err := s.authenticateRequest(r, form, ri, endpoint, false, now)
	if err != nil {
		return nil, nil, err
	}
	return form, auth, nil
}

// handleRevoke serves POST /oauth2/revoke (RFC 7009). A client may revoke
// only its own tokens; an invalid, expired or unknown token is answered
// with 200, as §2.2 asks. A revoked token's jti enters the revocation set
// until the token expires.
func (s *Service) handleRevoke(w http.ResponseWriter, r *http.Request) {
	now := s.clock()
	ri := &reqInfo{source: sourceKey(r), grant: "revocation"}
	if err := s.revoke(r, ri, now); err != nil {
		s.refused(ri, audit.TypeOAuthTokenRevoked, "revoke", err)
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (s *Service) revoke(r *http.Request, ri *reqInfo, now time.Time) error {
	form, auth, err := s.readAuthenticated(r, ri, PathRevoke, now)
	if err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return invalidRequest("token is required")
	}
	c, err := s.tokens.Parse(r.Context(), raw, now)
	if err != nil {
		if !notOurs(err) {
			return err
		}
		return nil
	}
	if c.ClientID != string(auth.client.ID) {
		return oauthErr(codeUnauthorizedClient, "a client may revoke only the tokens issued to it")
	}
	_, err = s.cfg.Revocations.Revoke(r.Context(), revocation.Entry{
		Kind: kindJTI, Value: c.ID, RevokedAt: now, ExpiresAt: c.Expiry.Add(clockSkew),
		Reason: "revoked by its client",
	})
	if err != nil {
		return err
	}
	k := ri.key(audit.TypeOAuthTokenRevoked, "revoke", audit.OutcomeSuccess, "revoked by its client")
	return s.audit.record(r.Context(), k.event(&auditBatch{first: now, last: now, count: 1, jtis: []string{c.ID}}))
}
