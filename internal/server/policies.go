package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/policyset"
	"github.com/kith-dev/kith/internal/store"
)

// buildPolicies builds the policy service. It must run after the store,
// the ledger and the agent plane, whose sync hub it wakes after each new
// revision.
func (s *Server) buildPolicies(ctx context.Context) error {
	_ = ctx
	svc, err := policyset.NewService(policyset.ServiceConfig{
		Store: s.store, Auditor: s.ledger, Changed: s.agents.changed, Clock: s.clock,
	})
	if err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	s.policies = svc
	return nil
}

// policyRoutes are the admin routes of the policy set.
func (s *Server) policyRoutes() []route {
	return []route{
		{"GET /v1/policies", s.listPolicies},
		{"POST /v1/policies", s.applyPolicies},
		{"GET /v1/policies/{name}", s.getPolicy},
		{"DELETE /v1/policies/{name}", s.deletePolicy},
	}
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	cur, err := s.policies.Current(r.Context())
	if err != nil {
		return err
	}
	out := api.PolicySet{Revision: cur.Revision, UpdatedAt: cur.UpdatedAt, UpdatedBy: cur.Actor,
		Policies: make([]json.RawMessage, 0, len(cur.Documents))}
	for _, d := range cur.Documents {
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		out.Policies = append(out.Policies, b)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	d, rev, err := s.policies.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return policyError(err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.Policy{Revision: rev, Policy: b})
}

func (s *Server) applyPolicies(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var in api.PolicyApply
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if len(in.Policies) == 0 {
		return badRequest("policies", "no policy to apply")
	}
	docs := make([]policy.Document, 0, len(in.Policies))
	for i, raw := range in.Policies {
		d, err := policy.UnmarshalDocument(raw)
		if err != nil {
			return badRequest(fmt.Sprintf("policies[%d]", i), "%v", err)
		}
		docs = append(docs, d)
	}
	res, err := s.policies.Apply(r.Context(), actor, docs)
	if err != nil {
		return policyError(err)
	}
	return writeJSON(w, http.StatusOK, applyResultToAPI(res))
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	res, err := s.policies.Delete(r.Context(), actor, r.PathValue("name"))
	if err != nil {
		return policyError(err)
	}
	return writeJSON(w, http.StatusOK, applyResultToAPI(res))
}

func applyResultToAPI(res *policyset.ApplyResult) api.PolicyApplyResult {
	out := api.PolicyApplyResult{Revision: res.Revision, Changes: []api.PolicyChange{}}
	for _, c := range res.Changes {
		out.Changes = append(out.Changes, api.PolicyChange{Name: c.Name, Kind: c.Kind, Diff: c.Diff})
	}
	return out
}

// policyError gives errors of package policy their status and public
// text; others are left to writeError.
func policyError(err error) error {
	var list policy.ErrorList
	switch {
	case errors.As(err, &list):
		return &problemError{status: http.StatusBadRequest, title: "Invalid policy", detail: list.Error(), field: list[0].Field}
	case errors.Is(err, policyset.ErrNotFound):
		return &problemError{status: http.StatusNotFound, title: "Not Found", detail: "no policy with that name"}
	case errors.Is(err, store.ErrConflict):
		return &problemError{status: http.StatusConflict, title: "Conflict", detail: "the policy set kept changing; try again"}
	}
	return err
}
