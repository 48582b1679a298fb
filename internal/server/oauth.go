package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/revocation"
)

// oauthPart is the token service, and the limit on secret checks.
type oauthPart struct {
	svc          *oauth.Service
	secretChecks *limiter
}

// buildOAuth builds the token service. It needs the store, the KEK, the
// ledger, the CA, the registry, the agent plane and the server's names,
// whose base URL is the issuer unless one is configured. It shares the agent plane's revocation
// set, so that agents and token verifiers see one set.
func (s *Server) buildOAuth(ctx context.Context) error {
	p := &oauthPart{secretChecks: newLimiter(secretCheckRate, secretCheckBurst)}
	revs := notifyingRevocations{Set: s.agents.revocations, notify: s.agents.changed}
	// The listen URL is the issuer unless one is configured, which then
	// is the public name; the other names stay accepted as alternate
	// base URLs (serverNames has checked the configured one).
	issuer, alt := s.names.url, s.names.alt
	if s.cfg.OAuthIssuer != "" {
		issuer = strings.TrimSuffix(s.cfg.OAuthIssuer, "/")
		alt = slices.DeleteFunc(append([]string{s.names.url}, alt...), func(u string) bool { return u == issuer })
	}
	var err error
	p.svc, err = oauth.New(ctx, oauth.Config{
		Issuer:      issuer,
		AltBaseURLs: alt,
		TrustDomain: s.td,
		Clients:     s.store,
		Keys:        s.store,
		KEK:         s.kek,
		Registry:    s.registry,
		Bundles:     s.ca,
		Revocations: revs,
		Auditor:     s.ledger,
		Clock:       s.clock,
		Logger:      s.logger,

		TokenTTL:           s.cfg.TokenTTL,
		ClientRate:         s.cfg.TokenClientRate,
		ClientBurst:        s.cfg.TokenClientBurst,
		BatchIssuanceAudit: s.cfg.BatchTokenAudit,
		Trust:              s.tokenTrust(),

		// Entry changes of other replicas: at once with their change
		// notice (watchChanges), else at the next poll of the revision.
		Changes:            s.store,
		ChangePollInterval: s.cfg.ReplicaPollInterval,
		Changed:            s.agents.changed,
	})
	if err != nil {
		return fmt.Errorf("token service: %w", err)
	}
	s.oauth = p
	return nil
}

// notifyingRevocations wakes the sync hub after each token revocation, so
// that agents (and the proxies they feed) get it at once rather than at the
// hub's next poll.
type notifyingRevocations struct {
	*revocation.Set
	notify func()
}

func (n notifyingRevocations) Revoke(ctx context.Context, e revocation.Entry) (revocation.Entry, error) {
	out, err := n.Set.Revoke(ctx, e)
	if err == nil {
		n.notify()
	}
	return out, err
}

// run runs the token service until ctx is done. The revocation set it
// shares runs with the agent plane.
func (p *oauthPart) run(ctx context.Context) error { return p.svc.Run(ctx) }

// oauthHandler serves the token service's public endpoints, instrumented.
func (s *Server) oauthHandler() http.Handler {
	return s.instrument("oauth", s.oauth.svc.Handler())
}

// clientRoutes are the admin routes that manage OAuth clients.
func (s *Server) clientRoutes() []route {
	return []route{
		{"GET /v1/clients", s.listClients},
		{"POST /v1/clients", s.createClient},
		{"GET /v1/clients/{id}", s.getClient},
		{"DELETE /v1/clients/{id}", s.deleteClient},
		{"POST /v1/clients/{id}/secret", s.rotateClientSecret},
		{"POST /v1/clients/{id}/keys", s.addClientKey},
		{"DELETE /v1/clients/{id}/keys/{kid}", s.removeClientKey},
		{"POST /v1/clients/{id}/revoke-tokens", s.revokeClientTokens},
		{"POST /v1/clients/secret-check", s.checkClientSecret},
	}
}

func clientToAPI(c oauth.Client) api.Client {
	out := api.Client{
		ID: string(c.ID), EntryID: c.EntryID, AuthMethod: string(c.AuthMethod), Scopes: c.Scopes, Audiences: c.Audiences,
		Description: c.Description, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version,
	}
	for _, sec := range c.Secrets {
		out.Secrets = append(out.Secrets, api.ClientSecretInfo{ID: sec.ID, CreatedAt: sec.CreatedAt, ExpiresAt: sec.ExpiresAt})
	}
	for _, k := range c.Keys {
		out.Keys = append(out.Keys, api.ClientKey{KeyID: k.KeyID, JWK: k.JWK, CreatedAt: k.CreatedAt})
	}
	return out
}

// clientError gives the token service's management errors the status and
// public text writeError sends: a validation error names its field, a
// missing client is 404, a clash 409; anything else stays internal.
func clientError(err error) error {
	var ve *oauth.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return &problemError{status: http.StatusBadRequest, title: "Invalid client", detail: ve.Error(), field: ve.Field}
	case errors.Is(err, oauth.ErrNotFound):
		return &problemError{status: http.StatusNotFound, title: "Not Found", detail: "no such client or key"}
	case errors.Is(err, oauth.ErrConflict):
		return &problemError{status: http.StatusConflict, title: "Conflict",
			detail: "the client changed concurrently, or has a key with that kid"}
	}
	return err
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cs, next, err := s.oauth.svc.ListClients(r.Context(), oauth.ClientFilter{EntryID: q.Get("entry_id"), After: q.Get("after"), Limit: limit})
	if err != nil {
		return clientError(err)
	}
	out := api.ClientList{Clients: make([]api.Client, 0, len(cs)), Next: next}
	for _, c := range cs {
		out.Clients = append(out.Clients, clientToAPI(c))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var in api.ClientCreate
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, sec, err := s.oauth.svc.CreateClient(r.Context(), actor, oauth.ClientSpec{
		EntryID: in.EntryID, AuthMethod: in.AuthMethod, Scopes: in.Scopes, Audiences: in.Audiences,
		Description: in.Description, Keys: in.Keys,
	})
	if err != nil {
		return clientError(err)
	}
	w.Header().Set("Location", "/v1/clients/"+string(c.ID))
	return writeJSON(w, http.StatusCreated, api.ClientSecret{Client: clientToAPI(c), Secret: sec.Reveal()})
}

func (s *Server) getClient(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	c, err := s.oauth.svc.GetClient(r.Context(), oauth.ClientID(r.PathValue("id")))
	if err != nil {
		return clientError(err)
	}
	return writeJSON(w, http.StatusOK, clientToAPI(c))
}

func (s *Server) deleteClient(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	if err := s.oauth.svc.DeleteClient(r.Context(), actor, oauth.ClientID(r.PathValue("id"))); err != nil {
		return clientError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rotateClientSecret(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var in api.SecretRotate
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	overlap := oauth.DefaultSecretOverlap
	if in.Overlap != nil {
		overlap = time.Duration(*in.Overlap)
	}
	c, sec, err := s.oauth.svc.RotateSecret(r.Context(), actor, oauth.ClientID(r.PathValue("id")), overlap)
	if err != nil {
		return clientError(err)
	}
	return writeJSON(w, http.StatusOK, api.ClientSecret{Client: clientToAPI(c), Secret: sec.Reveal()})
}

func (s *Server) addClientKey(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var jwk json.RawMessage
	if err := decodeJSON(r, &jwk); err != nil {
		return err
	}
	c, err := s.oauth.svc.AddKey(r.Context(), actor, oauth.ClientID(r.PathValue("id")), jwk)
	if err != nil {
		return clientError(err)
	}
	return writeJSON(w, http.StatusCreated, clientToAPI(c))
}

func (s *Server) removeClientKey(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	c, err := s.oauth.svc.RemoveKey(r.Context(), actor, oauth.ClientID(r.PathValue("id")), r.PathValue("kid"))
	if err != nil {
		return clientError(err)
	}
	return writeJSON(w, http.StatusOK, clientToAPI(c))
}

func (s *Server) revokeClientTokens(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var in api.ClientTokensRevoke
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	if err := s.oauth.svc.RevokeTokens(r.Context(), actor, oauth.ClientID(r.PathValue("id")), in.Reason); err != nil {
		return clientError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tokenTrust is how the token service reads trust: from the trust host,
// if it runs.
func (s *Server) tokenTrust() oauth.TrustConfig {
	if s.trust == nil {
		return oauth.TrustConfig{}
	}
	return oauth.TrustConfig{Source: s.trust.host, Sensitive: s.cfg.TokenSensitiveScopes}
}
