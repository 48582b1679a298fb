package server

import (
	"net/http"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/nodes"
)

func agentToAPI(a nodes.Agent) api.Agent {
	status := "active"
	if a.Evicted() {
		status = "evicted"
	}
	return api.Agent{
		ID: a.ID, SPIFFEID: a.SPIFFEID.String(), Status: status, JoinTokenID: a.JoinTokenID,
		SerialNumber: a.SerialNumber, SVIDExpiresAt: a.SVIDExpiresAt, CreatedAt: a.CreatedAt,
		RenewedAt: a.RenewedAt, EvictedAt: a.EvictedAt,
	}
}

// createJoinToken is POST /v1/agents/join-tokens.
func (s *Server) createJoinToken(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var in api.JoinTokenCreate
	if r.ContentLength != 0 { // an empty body asks for the default TTL
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	tok, err := s.agents.nodes.CreateJoinToken(r.Context(), actor, time.Duration(in.TTL))
	if err != nil {
		return nodesError(err)
	}
	return writeJSON(w, http.StatusCreated, api.JoinToken{ID: tok.ID, Token: tok.Reveal(), ExpiresAt: tok.ExpiresAt})
}

// listAgents is GET /v1/agents?after=ID&limit=N.
func (s *Server) listAgents(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	agents, next, err := s.agents.nodes.List(r.Context(), r.URL.Query().Get("after"), limit)
	if err != nil {
		return nodesError(err)
	}
	out := api.AgentList{Agents: make([]api.Agent, 0, len(agents)), Next: next}
	for _, a := range agents {
		out.Agents = append(out.Agents, agentToAPI(a))
	}
	return writeJSON(w, http.StatusOK, out)
}

// getAgent is GET /v1/agents/{id}.
func (s *Server) getAgent(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	a, err := s.agents.nodes.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nodesError(err)
	}
	return writeJSON(w, http.StatusOK, agentToAPI(a))
}

// evictAgent is POST /v1/agents/{id}/evict.
func (s *Server) evictAgent(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	ev, err := s.agents.nodes.Evict(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return nodesError(err)
	}
	return writeJSON(w, http.StatusOK, api.AgentEviction{Agent: agentToAPI(ev.Agent), RevokedSVIDs: ev.RevokedSVIDs})
}

// revokeEntry is POST /v1/entries/{id}/revoke.
func (s *Server) revokeEntry(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	rev, err := s.agents.nodes.RevokeEntry(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return nodesError(err)
	}
	return writeJSON(w, http.StatusOK, entryRevocationToAPI(rev))
}

// quarantineEntry is POST /v1/entries/{id}/quarantine.
func (s *Server) quarantineEntry(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	rev, err := s.agents.nodes.QuarantineEntry(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return nodesError(err)
	}
	return writeJSON(w, http.StatusOK, entryRevocationToAPI(rev))
}

// releaseEntry is POST /v1/entries/{id}/release.
func (s *Server) releaseEntry(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	e, err := s.agents.nodes.ReleaseEntry(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return nodesError(err)
	}
	return writeJSON(w, http.StatusOK, entryToAPI(e))
}

func entryRevocationToAPI(rev *nodes.EntryRevocation) api.EntryRevocation {
	return api.EntryRevocation{Entry: entryToAPI(rev.Entry), RevokedAt: rev.RevokedAt, ExpiresAt: rev.ExpiresAt}
}
