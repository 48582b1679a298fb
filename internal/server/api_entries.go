package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/registry"
)

func entryToAPI(e registry.Entry) api.Entry {
	spec := e.Spec()
	return api.Entry{
		ID: e.ID, SPIFFEID: spec.SPIFFEID, ParentID: spec.ParentID, AnyAgent: spec.AnyAgent, Selectors: spec.Selectors,
		Owner: e.Owner, BusinessFunction: e.BusinessFunction, Description: e.Description,
		MaxScopes: e.MaxScopes, X509SVIDTTL: api.Duration(e.X509SVIDTTL), JWTSVIDTTL: api.Duration(e.JWTSVIDTTL),
		Labels: e.Labels, Status: string(e.Status), CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Revision: e.Revision,
	}
}

func specFromAPI(a api.Entry) registry.Spec {
	return registry.Spec{
		SPIFFEID: a.SPIFFEID, ParentID: a.ParentID, AnyAgent: a.AnyAgent, Selectors: a.Selectors,
		Owner: a.Owner, BusinessFunction: a.BusinessFunction, Description: a.Description,
		MaxScopes: a.MaxScopes, X509SVIDTTL: time.Duration(a.X509SVIDTTL), JWTSVIDTTL: time.Duration(a.JWTSVIDTTL),
		Labels: a.Labels, Status: a.Status, Revision: a.Revision,
	}
}

func (s *Server) listEntries(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var anyAgent bool
	switch v := q.Get("any_agent"); v {
	case "", "false":
	case "true":
		anyAgent = true
	default:
		return badRequest("any_agent", "any_agent must be true or false")
	}
	entries, next, err := s.registry.List(r.Context(), registry.Filter{
		SPIFFEID: q.Get("spiffe_id"), ParentID: q.Get("parent_id"), Status: q.Get("status"),
		AnyAgent: anyAgent, After: q.Get("after"), Limit: limit,
	})
	if err != nil {
		return err
	}
	out := api.EntryList{Entries: make([]api.Entry, 0, len(entries)), Next: next}
	for _, e := range entries {
		out.Entries = append(out.Entries, entryToAPI(e))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) createEntry(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var in api.Entry
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	e, err := s.registry.Create(r.Context(), actor, specFromAPI(in))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/entries/"+e.ID)
	return writeJSON(w, http.StatusCreated, entryToAPI(e))
}

// createEntries creates the entries of a batch in one transaction: all
// or none. A problem names the entry by its index in the batch
// (entries[i].field).
func (s *Server) createEntries(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var in api.EntryBatch
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	specs := make([]registry.Spec, len(in.Entries))
	for i, e := range in.Entries {
		if e.ID != "" || e.Revision != 0 {
			return badRequest(fmt.Sprintf("entries[%d].id", i), "entries[%d]: id and revision are assigned by the server", i)
		}
		specs[i] = specFromAPI(e)
	}
	created, err := s.registry.CreateMany(r.Context(), actor, specs)
	var be *registry.BatchError
	var ve *registry.ValidationError
	switch {
	case errors.As(err, &be) && errors.As(be.Err, &ve):
		return &problemError{status: http.StatusBadRequest, title: "Invalid entry", detail: be.Error(),
			field: fmt.Sprintf("entries[%d].%s", be.Index, ve.Field)}
	case errors.As(err, &be) && errors.Is(be.Err, registry.ErrConflict):
		return &problemError{status: http.StatusConflict, title: "Conflict", field: fmt.Sprintf("entries[%d]", be.Index),
			detail: fmt.Sprintf("entries[%d]: an entry with the same SPIFFE ID, parent and selectors exists, or comes earlier in the batch", be.Index)}
	case err != nil:
		return err
	}
	out := api.EntryList{Entries: make([]api.Entry, len(created))}
	for i, e := range created {
		out.Entries[i] = entryToAPI(e)
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) getEntry(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	e, err := s.registry.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, entryToAPI(e))
}

func (s *Server) updateEntry(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var in api.Entry
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.ID != "" && in.ID != r.PathValue("id") {
		return badRequest("id", "the body's id differs from the URL's")
	}
	if in.Revision == 0 {
		return badRequest("revision", "send the revision you read, so that concurrent changes are not lost")
	}
	e, err := s.registry.Update(r.Context(), actor, r.PathValue("id"), specFromAPI(in))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, entryToAPI(e))
}

// deleteEntry deletes an entry; one that OAuth clients act for only with
// cascade=true, which deletes them first and answers which.
func (s *Server) deleteEntry(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	id := r.PathValue("id")
	switch r.URL.Query().Get("cascade") {
	case "", "false":
		if err := s.registry.Delete(r.Context(), actor, id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	case "true":
		clients, err := s.registry.DeleteCascade(r.Context(), actor, id)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, api.EntryDeletion{ID: id, DeletedClients: append([]string{}, clients...)})
	}
	return badRequest("cascade", "cascade must be true or false")
}
