package server

import (
	"net/http"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
)

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, _ ledger.Actor) error {
	q := r.URL.Query()
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	f := store.EventFilter{Type: q.Get("type"), Actor: q.Get("actor"), Target: q.Get("target"),
		Outcome: q.Get("outcome"), After: -1, Limit: min(max(limit, 0), 1000)}
	if v := q.Get("after"); v != "" {
		n, err := queryInt(r, "after")
		if err != nil {
			return err
		}
		f.After = int64(n)
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return badRequest(name, "%s must be an RFC 3339 time", name)
			}
			*dst = t
		}
	}
	rows, err := s.store.ListEvents(r.Context(), f)
	if err != nil {
		return err
	}
	out := api.EventList{Events: make([]api.Event, 0, len(rows))}
	for _, row := range rows {
		out.Events = append(out.Events, api.Event{Index: row.Index, Event: row.Body})
	}
	return writeJSON(w, http.StatusOK, out)
}
