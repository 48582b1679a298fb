package server

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

// eventFilter reads the audit query parameters type, actor, target,
// outcome, since, until (RFC 3339), after (an index) and limit.
func eventFilter(r *http.Request) (store.EventFilter, error) {
	q := r.URL.Query()
	f := store.EventFilter{Type: q.Get("type"), Actor: q.Get("actor"), Target: q.Get("target"),
		Outcome: q.Get("outcome"), After: -1}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return f, err
	}
	f.Limit = min(limit, 1000)
	if q.Get("after") != "" {
		n, err := queryInt(r, "after")
		if err != nil {
			return f, err
		}
		f.After = int64(n)
	}
	for _, p := range [...]struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, badRequest(p.name, "%s must be an RFC 3339 time", p.name)
			}
			*p.dst = t
		}
	}
	return f, nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	f, err := eventFilter(r)
	if err != nil {
		return err
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

// exportEvents streams every matching event for auditors, as JSON Lines
// (format=jsonl, the default: one {"index":…,"event":…} object a line) or
// CSV (format=csv, with a header row).
func (s *Server) exportEvents(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	f, err := eventFilter(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	switch format {
	case "", "jsonl":
		w.Header().Set("Content-Type", "application/jsonl")
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	default:
		return badRequest("format", "format must be jsonl or csv")
	}
	w.Header().Set("Content-Disposition", `attachment; filename="kith-events.`+map[bool]string{true: "csv", false: "jsonl"}[format == "csv"]+`"`)
	cw := csv.NewWriter(w)
	if format == "csv" {
		cw.Write([]string{"index", "time", "type", "outcome", "actor_kind", "actor_id", "credential_id", "target", "action", "reason", "request_id", "details"})
	}
	remaining := -1 // no limit unless asked
	if f.Limit > 0 {
		remaining = f.Limit
	}
	for remaining != 0 {
		f.Limit = 1000
		if remaining > 0 {
			f.Limit = min(remaining, 1000)
		}
		rows, err := s.store.ListEvents(r.Context(), f)
		if err != nil {
			// Headers are gone; cut the stream so the client sees a
			// truncated body rather than a clean end.
			s.logger.Error("export events", "error", err)
			panic(http.ErrAbortHandler)
		}
		for _, row := range rows {
			if format == "csv" {
				var ev audit.Event
				if err := json.Unmarshal(row.Body, &ev); err != nil {
					s.logger.Error("export events: decode", "index", row.Index, "error", err)
					panic(http.ErrAbortHandler)
				}
				details, _ := json.Marshal(ev.Details)
				cw.Write([]string{strconv.FormatInt(row.Index, 10), ev.Time.UTC().Format(time.RFC3339Nano), ev.Type,
					string(ev.Outcome), ev.Actor.Kind, ev.Actor.ID, ev.Actor.CredentialID, ev.Target, ev.Action,
					ev.Reason, ev.RequestID, string(details)})
			} else {
				line, _ := json.Marshal(api.Event{Index: row.Index, Event: row.Body})
				w.Write(append(line, '\n'))
			}
		}
		if format == "csv" {
			cw.Flush()
		}
		if len(rows) < f.Limit {
			break
		}
		f.After = rows[len(rows)-1].Index
		if remaining > 0 {
			remaining -= len(rows)
		}
	}
	return nil
}
