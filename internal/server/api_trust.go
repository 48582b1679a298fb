package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/trust"
	"github.com/kith-dev/kith/internal/trusthost"
)

// trustRoutes are the admin routes of the behavioural-trust engine. An
// {id} is a caller's SPIFFE ID (path-escaped) or OAuth client ID.
func (s *Server) trustRoutes() []route {
	return []route{
		{"GET /v1/trust", s.listTrust},
		{"GET /v1/trust/{id}", s.getTrust},
		{"GET /v1/trust/{id}/history", s.trustHistory},
		{"POST /v1/trust/{id}/clear", s.clearTrust},
		{"POST /v1/trust/{id}/context", s.addTrustContext},
		{"DELETE /v1/trust/{id}/context", s.removeTrustContext},
		{"GET /v1/signals", s.listSignals},
	}
}

// trustTypes are the ledger event types of a caller's trust history.
var trustTypes = []string{audit.TypeTrustSignal, audit.TypeTrustLevelChanged, audit.TypeTrustCleared,
	audit.TypeTrustContextAdded, audit.TypeTrustContextRemoved}

// trustHost returns the engine's host, or a 503 problem when the server
// runs without the engine.
func (s *Server) trustHost() (*trusthost.Host, error) {
	if s.trust == nil {
		return nil, &problemError{status: http.StatusServiceUnavailable, title: "Service Unavailable",
			detail: "the behavioural-trust engine is disabled on this server"}
	}
	return s.trust.host, nil
}

// trustID returns the {id} of a trust route.
func trustID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > 2048 {
		return "", badRequest("id", "a caller's SPIFFE ID or client ID is required")
	}
	return id, nil
}

func stateToAPI(st trust.State) api.TrustState {
	out := api.TrustState{Identity: st.Identity, Score: st.Trust.Score, Level: st.Trust.Level, Signals: st.Trust.Signals,
		Known: st.Known, WarmingUp: st.WarmingUp, FirstSeen: st.FirstSeen, LastSeen: st.LastSeen, Calls: st.Calls}
	for _, r := range st.Reasons {
		out.Reasons = append(out.Reasons, api.TrustReason{Kind: r.Kind, Name: r.Name, Points: r.Points, Detail: r.Detail, Since: r.Since, Until: r.Until})
	}
	return out
}

// listTrust is GET /v1/trust?level=L&identity=SUBSTRING: the tracked
// callers, lowest score first.
func (s *Server) listTrust(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	h, err := s.trustHost()
	if err != nil {
		return err
	}
	level, sub := r.URL.Query().Get("level"), r.URL.Query().Get("identity")
	switch level {
	case "", "high", "medium", "low", "untrusted":
	default:
		return badRequest("level", "level must be high, medium, low or untrusted")
	}
	out := api.TrustList{States: []api.TrustState{}}
	for _, e := range h.Table().Entries {
		tr := e.Trust()
		if (level != "" && tr.Level != level) || (sub != "" && !strings.Contains(e.Identity, sub)) {
			continue
		}
		out.States = append(out.States, api.TrustState{Identity: e.Identity, Score: tr.Score, Level: tr.Level, Signals: tr.Signals, Known: true})
	}
	sort.SliceStable(out.States, func(i, j int) bool { return out.States[i].Score < out.States[j].Score })
	return writeJSON(w, http.StatusOK, out)
}

// getTrust is GET /v1/trust/{id}: the state, its reasons, the context
// inputs and the signals of the last day.
func (s *Server) getTrust(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	h, err := s.trustHost()
	if err != nil {
		return err
	}
	id, err := trustID(r)
	if err != nil {
		return err
	}
	out := stateToAPI(h.State(id))
	for _, c := range h.Contexts(id) {
		out.Contexts = append(out.Contexts, api.TrustContext{ID: c.ID, Kind: c.Kind, Reason: c.Reason, Weight: c.Weight, Expires: c.Expires, Source: c.Source})
	}
	sigs, err := s.signals(r.Context(), id, s.clock().Add(-24*time.Hour), -1, 100)
	if err != nil {
		return err
	}
	out.RecentSignals = sigs
	return writeJSON(w, http.StatusOK, out)
}

// signals reads trust.signal events, of identity when set, since a time
// and after an index.
func (s *Server) signals(ctx context.Context, identity string, since time.Time, after int64, limit int) ([]api.TrustSignal, error) {
	evs, err := s.ledger.Query(ctx, store.EventFilter{Type: audit.TypeTrustSignal, Target: identity, Since: since, After: after, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]api.TrustSignal, 0, len(evs))
	for _, ie := range evs {
		out = append(out, signalToAPI(ie))
	}
	return out, nil
}

func signalToAPI(ie ledger.IndexedEvent) api.TrustSignal {
	ev := ie.Event
	sig := api.TrustSignal{Index: ie.Index, Time: ev.Time, Identity: ev.Target, Kind: ev.Details["kind"],
		Severity: ev.Details["severity"], Credential: ev.Details["credential_id"], Evidence: map[string]string{}}
	for k, v := range ev.Details {
		switch k {
		case "kind", "severity", "credential_id":
		default:
			sig.Evidence[k] = v
		}
	}
	return sig
}

// listSignals is GET /v1/signals?identity=ID&kind=K&since=T&after=N&limit=N.
func (s *Server) listSignals(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	f, err := eventFilter(r)
	if err != nil {
		return err
	}
	kind := r.URL.Query().Get("kind")
	if kind != "" {
		if _, err := trust.ParseKind(kind); err != nil {
			return badRequest("kind", "%v", err)
		}
	}
	sigs, err := s.signals(r.Context(), r.URL.Query().Get("identity"), f.Since, f.After, f.Limit)
	if err != nil {
		return err
	}
	if kind != "" {
		sigs = slices.DeleteFunc(sigs, func(sg api.TrustSignal) bool { return sg.Kind != kind })
	}
	return writeJSON(w, http.StatusOK, api.SignalList{Signals: sigs})
}

// trustHistory is GET /v1/trust/{id}/history?after=N&limit=N: the
// caller's trust.* events, oldest first.
func (s *Server) trustHistory(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	id, err := trustID(r)
	if err != nil {
		return err
	}
	f, err := eventFilter(r)
	if err != nil {
		return err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var rows []store.Event
	for _, typ := range trustTypes {
		page, err := s.store.ListEvents(r.Context(), store.EventFilter{Type: typ, Target: id, After: f.After, Since: f.Since, Until: f.Until, Limit: limit})
		if err != nil {
			return err
		}
		rows = append(rows, page...)
	}
	slices.SortFunc(rows, func(a, b store.Event) int { return int(a.Index - b.Index) })
	out := api.TrustHistory{Events: []api.Event{}}
	for _, row := range rows[:min(len(rows), limit)] {
		out.Events = append(out.Events, api.Event{Index: row.Index, Event: json.RawMessage(row.Body)})
	}
	return writeJSON(w, http.StatusOK, out)
}

// trustAction records ev, the audited record of an admin's action on a
// caller's trust, waits (up to five seconds) for this replica's engine
// to apply it, and answers the caller's state.
func (s *Server) trustAction(w http.ResponseWriter, r *http.Request, h *trusthost.Host, ev audit.Event) error {
	idx, err := s.ledger.Record(r.Context(), ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.WaitApplied(ctx, idx); err != nil && r.Context().Err() == nil {
		s.logger.WarnContext(r.Context(), "trust: the engine has not applied an admin action yet", "index", idx)
	}
	return writeJSON(w, http.StatusOK, stateToAPI(h.State(ev.Target)))
}

// clearTrust is POST /v1/trust/{id}/clear: restores the caller's trust
// at once, recorded as the admin's trust.cleared event.
func (s *Server) clearTrust(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	h, err := s.trustHost()
	if err != nil {
		return err
	}
	id, err := trustID(r)
	if err != nil {
		return err
	}
	var in api.TrustClear
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	if !h.State(id).Known {
		return &problemError{status: http.StatusNotFound, title: "Not Found", detail: "the trust engine does not know that caller"}
	}
	return s.trustAction(w, r, h, trusthost.ClearEvent(actor, id, in.Reason))
}

// addTrustContext is POST /v1/trust/{id}/context: adds (or replaces, by
// ID) a context input, recorded as the admin's trust.context_added event.
func (s *Server) addTrustContext(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	h, err := s.trustHost()
	if err != nil {
		return err
	}
	id, err := trustID(r)
	if err != nil {
		return err
	}
	var in api.TrustContext
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	ci := trust.ContextInput{ID: in.ID, Identity: id, Kind: in.Kind, Reason: in.Reason, Weight: in.Weight, Expires: in.Expires, Source: in.Source}
	if ci.Source == "" {
		ci.Source = actor.ID
	}
	switch {
	case ci.ID == "" || len(ci.ID) > 256:
		return badRequest("id", "id is required (at most 256 bytes)")
	case ci.Kind == "" || len(ci.Kind) > 128:
		return badRequest("kind", "kind is required (at most 128 bytes)")
	case ci.Reason == "" || len(ci.Reason) > 1024:
		return badRequest("reason", "reason is required (at most 1024 bytes)")
	case ci.Weight < -trust.MaxScore || ci.Weight > trust.MaxScore:
		return badRequest("weight", "weight must be between -1000 and 1000")
	case !ci.Expires.After(s.clock()):
		return badRequest("expires", "expires must be in the future")
	case len(ci.Source) > 256:
		return badRequest("source", "source is at most 256 bytes")
	}
	return s.trustAction(w, r, h, trusthost.ContextAddedEvent(actor, ci))
}

// removeTrustContext is DELETE /v1/trust/{id}/context (body: the
// input's ID).
func (s *Server) removeTrustContext(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	h, err := s.trustHost()
	if err != nil {
		return err
	}
	id, err := trustID(r)
	if err != nil {
		return err
	}
	var in api.TrustContextRemove
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if !slices.ContainsFunc(h.Contexts(id), func(c trust.ContextInput) bool { return c.ID == in.ID }) {
		return &problemError{status: http.StatusNotFound, title: "Not Found", detail: "that caller has no context input with that ID"}
	}
	return s.trustAction(w, r, h, trusthost.ContextRemovedEvent(actor, id, in.ID))
}
