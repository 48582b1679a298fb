package callrecord

import (
	"fmt"
	"strconv"

	"github.com/kith-dev/kith/internal/audit"
)

// Event returns the ledger event of r, an [audit.TypeCallDecided]
// reported by the agent whose SPIFFE ID is reporter, in the request
// requestID. The actor is the caller (or its OAuth client when no SPIFFE
// ID was verified), with the record's Source as its remote address; the outcome is denied when the proxy refused the call
// (a Reason is set), success otherwise. For a record that passed
// [Record.Validate], the event always fits a ledger entry.
func (r *Record) Event(reporter, requestID string) audit.Event {
	actor := audit.Actor{Kind: "workload", ID: r.Caller, CredentialID: r.CredentialID, CredentialType: r.CredentialType,
		RemoteAddr: r.Source}
	if r.Caller == "" && r.ClientID != "" {
		actor.Kind, actor.ID = "client", r.ClientID
	}
	outcome := audit.OutcomeSuccess
	if r.Reason != "" { // the proxy refused the call
		outcome = audit.OutcomeDenied
	}
	route := r.Route
	if route == "" {
		route = r.Path
	}
	action := r.Method
	if route != "" {
		action += " " + route
	}
	if action == "" {
		action = "call"
	}
	ev := audit.Event{
		Time: r.Time, Type: audit.TypeCallDecided, Actor: actor, Target: r.Target, Action: action,
		Outcome: outcome, Reason: r.Reason, RequestID: requestID,
		Trust: &audit.Trust{Score: r.TrustScore},
		Details: map[string]string{
			"direction":   r.Direction,
			"decision":    r.Decision,
			"status":      strconv.Itoa(r.Status),
			"bytes_in":    strconv.FormatInt(r.BytesIn, 10),
			"bytes_out":   strconv.FormatInt(r.BytesOut, 10),
			"latency_us":  strconv.FormatInt(r.LatencyMicros, 10),
			"reported_by": reporter,
		},
	}
	if r.PolicyRevision != 0 || r.Rule != "" {
		ev.Policy = &audit.Policy{Revision: r.PolicyRevision, Rule: r.Rule}
	}
	if r.ClientID != "" {
		ev.Details["client_id"] = r.ClientID
	}
	if r.Path != "" && r.Path != route {
		ev.Details["path"] = r.Path
	}
	return ev
}

// RefusedEvent returns the [audit.TypeTelemetryRefused] event of the
// records of one upload that [Accept] refused: reporter is the agent's
// SPIFFE ID, refused the reasons Accept gave (at least one), recorded the
// number of records of the upload that were recorded.
func RefusedEvent(reporter, requestID string, refused []string, recorded int) audit.Event {
	return audit.Event{Type: audit.TypeTelemetryRefused,
		Actor:  audit.Actor{Kind: "agent", ID: reporter, CredentialType: "x509_svid"},
		Action: "upload", Outcome: audit.OutcomeFailure, RequestID: requestID,
		Reason:  fmt.Sprintf("%d invalid call records left out; first: %s", len(refused), refused[0]),
		Details: map[string]string{"refused": strconv.Itoa(len(refused)), "recorded": strconv.Itoa(recorded)}}
}
