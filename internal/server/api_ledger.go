package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
)

// ledgerRoutes are the audit ledger's admin routes: checkpoints, entries,
// proofs and evidence bundles for verifiers.
func (s *Server) ledgerRoutes() []route {
	return []route{
		{"GET /v1/ledger/key", s.ledgerKeyRoute},
		{"GET /v1/ledger/checkpoint", s.ledgerCheckpoint},
		{"GET /v1/ledger/checkpoints", s.ledgerCheckpoints},
		{"GET /v1/ledger/entries", s.ledgerEntries},
		{"GET /v1/ledger/proof/inclusion", s.ledgerInclusion},
		{"GET /v1/ledger/proof/consistency", s.ledgerConsistency},
		{"GET /v1/ledger/evidence/{index}", s.ledgerEvidence},
		{"GET /v1/events/export", s.exportEvents},
	}
}

// queryUint parses a required or optional unsigned query parameter.
func queryUint(r *http.Request, name string, required bool) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		if required {
			return 0, badRequest(name, "%s is required", name)
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, badRequest(name, "%s must be a non-negative integer", name)
	}
	return n, nil
}

// ledgerError maps the ledger's errors on the ledger routes.
func ledgerError(err error) error {
	switch {
	case errors.Is(err, ledger.ErrOutOfRange):
		return badRequest("", "%v", err)
	case errors.Is(err, ledger.ErrNoCheckpoint):
		return &problemError{status: http.StatusNotFound, title: "Not Found", detail: "the ledger has no checkpoint yet; retry in a second"}
	}
	return err
}

func (s *Server) ledgerKeyRoute(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	return writeJSON(w, http.StatusOK, api.LedgerKey{Origin: s.ledger.Origin(), VerifierKey: s.ledgerKey})
}

func (s *Server) ledgerCheckpoint(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	// The stored note as it is, unchecked: verifiers judge it.
	note, err := s.ledger.Source().Checkpoint(r.Context())
	if err != nil {
		return ledgerError(err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(note)
	return err
}

func (s *Server) ledgerCheckpoints(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	after, err := queryUint(r, "after_size", false)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	if limit == 0 || limit > 1000 {
		limit = 1000
	}
	notes, err := s.ledger.Source().Checkpoints(r.Context(), after, limit)
	if err != nil {
		return ledgerError(err)
	}
	out := api.Checkpoints{Checkpoints: make([]string, 0, len(notes))}
	for _, n := range notes {
		out.Checkpoints = append(out.Checkpoints, string(n))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) ledgerEntries(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	start, err := queryUint(r, "start", true)
	if err != nil {
		return err
	}
	end, err := queryUint(r, "end", true)
	if err != nil {
		return err
	}
	if end <= start || end-start > 1000 {
		return badRequest("end", "end must be after start, and at most 1000 entries at a time")
	}
	entries, err := s.ledger.Entries(r.Context(), start, end)
	if err != nil {
		return ledgerError(err)
	}
	out := api.LedgerEntries{Entries: make([]api.LedgerEntry, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, api.LedgerEntry{Index: e.Index, Data: e.Data, LeafHash: e.LeafHash})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) ledgerInclusion(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	index, err := queryUint(r, "index", true)
	if err != nil {
		return err
	}
	size, err := queryUint(r, "size", true)
	if err != nil {
		return err
	}
	p, err := s.ledger.InclusionProof(r.Context(), index, size)
	if err != nil {
		return ledgerError(err)
	}
	return writeJSON(w, http.StatusOK, api.Proof{Hashes: p})
}

func (s *Server) ledgerConsistency(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	from, err := queryUint(r, "from", true)
	if err != nil {
		return err
	}
	to, err := queryUint(r, "to", true)
	if err != nil {
		return err
	}
	p, err := s.ledger.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		return ledgerError(err)
	}
	return writeJSON(w, http.StatusOK, api.Proof{Hashes: p})
}

func (s *Server) ledgerEvidence(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	index, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		return badRequest("index", "index must be a non-negative integer")
	}
	ev, err := s.ledger.Evidence(r.Context(), index)
	if err != nil {
		return ledgerError(err)
	}
	return writeJSON(w, http.StatusOK, api.Evidence{Index: ev.Index, Entry: ev.Entry, Proof: ev.Proof, Checkpoint: ev.Checkpoint})
}
