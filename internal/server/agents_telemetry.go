package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/dataplane"
	"github.com/kith-dev/kith/internal/nodes"
)

// maxTelemetrySkew is how far in the future a record's time may be.
const maxTelemetrySkew = 5 * time.Minute

// agentTelemetry is POST /agent/v1/telemetry: a JSON array of call records
// (dataplane.CallRecord) from the proxies of the calling agent's node, each
// recorded as a "call.decided" ledger event. A batch that is not such an
// array is refused whole (400). An invalid record is left out and counted,
// the rest recorded: a batch merges the records of several proxies, and
// one proxy's bad record must not erase the others' (the agent refuses
// invalid records at its socket already, so this takes an agent of
// another version or a broken one); the refusal itself is recorded as a
// "telemetry.refused" event. A batch is recorded in one ledger commit:
// one the ledger fails is answered 500 with nothing recorded, and may be
// sent again. A batch sent again after its answer was lost is recognised
// by its sequence numbers (dataplane.TelemetryBatchHeader): the records
// this server recorded already are left out and counted as duplicates.
func (s *Server) agentTelemetry(w http.ResponseWriter, r *http.Request, c *nodes.Caller) error {
	body, err := readAgentBody(r)
	if err != nil {
		return err
	}
	raw, err := dataplane.DecodeCallRecords(body)
	if err != nil {
		return badRequest("", "%v", err)
	}
	id, numbered := dataplane.ParseTelemetryBatch(r.Header.Get(dataplane.TelemetryBatchHeader), len(raw))
	dup := 0
	if numbered {
		dup = s.telemetry.recorded(c.Agent.ID, id)
	}
	batch, refused := checkTelemetry(raw[dup:], dup, s.clock())
	reporter := c.Agent.SPIFFEID.String()
	reqID := requestID(r.Context())
	evs := make([]audit.Event, 0, len(batch)+1)
	for i := range batch {
		evs = append(evs, callEvent(&batch[i], reporter, reqID))
	}
	if len(refused) > 0 {
		s.logger.WarnContext(r.Context(), "telemetry: invalid records left out", "agent", reporter,
			"refused", len(refused), "first", refused[0])
		evs = append(evs, audit.Event{Type: audit.TypeTelemetryRefused,
			Actor:  audit.Actor{Kind: "agent", ID: reporter, CredentialType: "x509_svid"},
			Action: "upload", Outcome: audit.OutcomeFailure, RequestID: reqID,
			Reason:  fmt.Sprintf("%d invalid call records left out; first: %s", len(refused), refused[0]),
			Details: map[string]string{"refused": strconv.Itoa(len(refused)), "recorded": strconv.Itoa(len(batch))}})
	}
	// One commit for the whole batch: if it fails, nothing was recorded
	// and the agent's retry records each call once.
	if len(evs) > 0 {
		if _, err := s.ledger.RecordAll(r.Context(), evs); err != nil {
			return fmt.Errorf("record telemetry: %w", err)
		}
	}
	if numbered {
		s.telemetry.mark(c.Agent.ID, id)
	}
	s.metrics.telemetry.WithLabelValues("recorded").Add(float64(len(batch)))
	s.metrics.telemetry.WithLabelValues("refused").Add(float64(len(refused)))
	s.metrics.telemetry.WithLabelValues("duplicate").Add(float64(dup))
	return writeJSON(w, http.StatusOK, agentproto.TelemetryResponse{Recorded: len(batch), Refused: len(refused), Duplicates: dup})
}

// telemetryMarks remembers, per agent, the end of the last batch this
// server recorded, so that a batch sent again is not recorded twice. It
// is this replica's memory: a batch sent again to another replica is
// recorded again.
type telemetryMarks struct {
	mu sync.Mutex
	m  map[string]dataplane.TelemetryBatch // by agent ID
}

// recorded returns how many of the first records of batch id the server
// has recorded already.
func (t *telemetryMarks) recorded(agent string, id dataplane.TelemetryBatch) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	last, ok := t.m[agent]
	if !ok || last.Run != id.Run || last.End <= id.First {
		return 0
	}
	return int(min(last.End, id.End) - id.First)
}

// mark notes that batch id of agent is recorded.
func (t *telemetryMarks) mark(agent string, id dataplane.TelemetryBatch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]dataplane.TelemetryBatch{}
	}
	if last, ok := t.m[agent]; !ok || last.Run != id.Run || last.End < id.End {
		t.m[agent] = id
	}
}

// parseTelemetry decodes the untrusted body of a telemetry batch and
// checks its records (see checkTelemetry); a body that is not a batch is
// a 400 problem.
func parseTelemetry(body []byte, now time.Time) (valid []dataplane.CallRecord, refused []string, err error) {
	batch, err := dataplane.DecodeCallRecords(body)
	if err != nil {
		return nil, nil, badRequest("", "%v", err)
	}
	valid, refused = checkTelemetry(batch, 0, now)
	return valid, refused, nil
}

// checkTelemetry returns the valid records of batch, and for each invalid
// one why, as text safe to log; offset is the position of batch[0] in the
// agent's batch, for the messages.
func checkTelemetry(batch []dataplane.CallRecord, offset int, now time.Time) (valid []dataplane.CallRecord, refused []string) {
	valid = batch[:0]
	for i := range batch {
		rec := &batch[i]
		err := rec.Validate()
		if err == nil && rec.Time.After(now.Add(maxTelemetrySkew)) {
			err = errors.New("time is in the future")
		}
		if err != nil {
			refused = append(refused, fmt.Sprintf("record %d: %v", offset+i, err))
			continue
		}
		valid = append(valid, *rec)
	}
	return valid, refused
}

// callEvent returns the ledger event of rec, reported by the agent whose
// SPIFFE ID is reporter.
func callEvent(rec *dataplane.CallRecord, reporter, reqID string) audit.Event {
	actor := audit.Actor{Kind: "workload", ID: rec.Caller, CredentialID: rec.CredentialID, CredentialType: rec.CredentialType}
	if rec.Caller == "" && rec.ClientID != "" {
		actor.Kind, actor.ID = "client", rec.ClientID
	}
	outcome := audit.OutcomeSuccess
	if rec.Reason != "" { // the proxy refused the call
		outcome = audit.OutcomeDenied
	}
	route := rec.Route
	if route == "" {
		route = rec.Path
	}
	action := rec.Method
	if route != "" {
		action += " " + route
	}
	if action == "" {
		action = "call"
	}
	ev := audit.Event{
		Time: rec.Time, Type: audit.TypeCallDecided, Actor: actor, Target: rec.Target, Action: action,
		Outcome: outcome, Reason: rec.Reason, RequestID: reqID,
		Trust: &audit.Trust{Score: rec.TrustScore},
		Details: map[string]string{
			"direction":   rec.Direction,
			"decision":    rec.Decision,
			"status":      strconv.Itoa(rec.Status),
			"bytes_in":    strconv.FormatInt(rec.BytesIn, 10),
			"bytes_out":   strconv.FormatInt(rec.BytesOut, 10),
			"latency_us":  strconv.FormatInt(rec.LatencyMicros, 10),
			"reported_by": reporter,
		},
	}
	if rec.PolicyRevision != 0 || rec.Rule != "" {
		ev.Policy = &audit.Policy{Revision: rec.PolicyRevision, Rule: rec.Rule}
	}
	if rec.ClientID != "" {
		ev.Details["client_id"] = rec.ClientID
	}
	if rec.Path != "" && rec.Path != route {
		ev.Details["path"] = rec.Path
	}
	return ev
}
