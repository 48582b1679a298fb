package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kith-dev/kith/internal/dataplane"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/nodes"
)

// callDecidedEvent is the ledger event type of a call a proxy decided on.
const callDecidedEvent = "call.decided"

// maxTelemetrySkew is how far in the future a record's time may be.
const maxTelemetrySkew = 5 * time.Minute

// telemetryResponse answers a telemetry batch.
type telemetryResponse struct {
	// Recorded is the number of records written to the ledger.
	Recorded int `json:"recorded"`
	// Refused is the number of invalid records left out.
	Refused int `json:"refused,omitempty"`
}

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
// sent again (only an answer lost after the commit makes the agent send
// records twice).
func (s *Server) agentTelemetry(w http.ResponseWriter, r *http.Request, c *nodes.Caller) error {
	body, err := readAgentBody(r)
	if err != nil {
		return err
	}
	batch, refused, err := parseTelemetry(body, s.clock())
	if err != nil {
		return err
	}
	reporter := c.Agent.SPIFFEID.String()
	reqID := requestID(r.Context())
	evs := make([]ledger.Event, 0, len(batch)+1)
	for i := range batch {
		evs = append(evs, callEvent(&batch[i], reporter, reqID))
	}
	if len(refused) > 0 {
		s.logger.WarnContext(r.Context(), "telemetry: invalid records left out", "agent", reporter,
			"refused", len(refused), "first", refused[0])
		evs = append(evs, ledger.Event{Type: telemetryRefusedEvent,
			Actor:  ledger.Actor{Kind: "agent", ID: reporter, CredentialType: "x509_svid"},
			Action: "upload", Outcome: ledger.OutcomeFailure, RequestID: reqID,
			Reason:  fmt.Sprintf("%d invalid call records left out; first: %s", len(refused), refused[0]),
			Details: map[string]string{"refused": strconv.Itoa(len(refused)), "recorded": strconv.Itoa(len(batch))}})
	}
	// One commit for the whole batch: if it fails, nothing was recorded
	// and the agent's retry records each call once.
	if _, err := s.ledger.RecordAll(r.Context(), evs); err != nil {
		return fmt.Errorf("record telemetry: %w", err)
	}
	return writeJSON(w, http.StatusOK, telemetryResponse{Recorded: len(batch), Refused: len(refused)})
}

// telemetryRefusedEvent is the ledger event type of call records an agent
// uploaded that the server left out as invalid.
const telemetryRefusedEvent = "telemetry.refused"

// parseTelemetry decodes the untrusted body of a telemetry batch. It
// returns the valid records, and for each invalid one why, as text safe
// to log; a body that is not a batch is a 400 problem.
func parseTelemetry(body []byte, now time.Time) (valid []dataplane.CallRecord, refused []string, err error) {
	batch, err := dataplane.DecodeCallRecords(body)
	if err != nil {
		return nil, nil, badRequest("", "%v", err)
	}
	valid = batch[:0]
	for i := range batch {
		rec := &batch[i]
		err := rec.Validate()
		if err == nil && rec.Time.After(now.Add(maxTelemetrySkew)) {
			err = errors.New("time is in the future")
		}
		if err != nil {
			refused = append(refused, fmt.Sprintf("record %d: %v", i, err))
			continue
		}
		valid = append(valid, *rec)
	}
	return valid, refused, nil
}

// callEvent returns the ledger event of rec, reported by the agent whose
// SPIFFE ID is reporter.
func callEvent(rec *dataplane.CallRecord, reporter, reqID string) ledger.Event {
	actor := ledger.Actor{Kind: "workload", ID: rec.Caller, CredentialID: rec.CredentialID, CredentialType: rec.CredentialType}
	if rec.Caller == "" && rec.ClientID != "" {
		actor.Kind, actor.ID = "client", rec.ClientID
	}
	outcome := ledger.OutcomeSuccess
	if rec.Reason != "" { // the proxy refused the call
		outcome = ledger.OutcomeDenied
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
	ev := ledger.Event{
		Time: rec.Time, Type: callDecidedEvent, Actor: actor, Target: rec.Target, Action: action,
		Outcome: outcome, Reason: rec.Reason, RequestID: reqID,
		Trust: &ledger.Trust{Score: rec.TrustScore},
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
		ev.Policy = &ledger.Policy{Revision: rec.PolicyRevision, Rule: rec.Rule}
	}
	if rec.ClientID != "" {
		ev.Details["client_id"] = rec.ClientID
	}
	if rec.Path != "" && rec.Path != route {
		ev.Details["path"] = rec.Path
	}
	return ev
}
