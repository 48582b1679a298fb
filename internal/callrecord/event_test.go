package callrecord

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/audit"
)

func TestEvent(t *testing.T) {
	const agent = "spiffe://example.org/kith/agent/a1"
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	base := Record{Time: at, Direction: "inbound", Caller: "spiffe://example.org/orders", CredentialID: "1f2e",
		CredentialType: "x509_svid", Target: "spiffe://example.org/payments", Method: "POST", Route: "/charge/{id}",
		Path: "/charge/7", Status: 200, BytesIn: 12, BytesOut: 34, LatencyMicros: 250, Decision: "allow",
		PolicyRevision: 3, Rule: "payments/allow-orders", TrustScore: 90}
	details := func(extra ...string) map[string]string {
		d := map[string]string{"direction": "inbound", "decision": "allow", "status": "200", "bytes_in": "12",
			"bytes_out": "34", "latency_us": "250", "reported_by": agent}
		for i := 0; i < len(extra); i += 2 {
			d[extra[i]] = extra[i+1]
		}
		return d
	}
	tests := []struct {
		name string
		edit func(r *Record)
		want audit.Event
	}{
		{"allowed", func(*Record) {}, audit.Event{Time: at, Type: audit.TypeCallDecided,
			Actor:  audit.Actor{Kind: "workload", ID: base.Caller, CredentialID: "1f2e", CredentialType: "x509_svid"},
			Target: base.Target, Action: "POST /charge/{id}", Outcome: audit.OutcomeSuccess, RequestID: "req-1",
			Policy: &audit.Policy{Revision: 3, Rule: "payments/allow-orders"}, Trust: &audit.Trust{Score: 90},
			Details: details("path", "/charge/7")}},
		{"refused client without route", func(r *Record) {
			r.Caller, r.ClientID, r.Route, r.Reason, r.PolicyRevision, r.Rule = "", "c1", "", "no_credential", 0, ""
		}, audit.Event{Time: at, Type: audit.TypeCallDecided,
			Actor:  audit.Actor{Kind: "client", ID: "c1", CredentialID: "1f2e", CredentialType: "x509_svid"},
			Target: base.Target, Action: "POST /charge/7", Outcome: audit.OutcomeDenied, Reason: "no_credential",
			RequestID: "req-1", Trust: &audit.Trust{Score: 90}, Details: details("client_id", "c1")}},
		{"no method or path", func(r *Record) { r.Method, r.Route, r.Path = "", "", "" }, audit.Event{Time: at,
			Type:   audit.TypeCallDecided,
			Actor:  audit.Actor{Kind: "workload", ID: base.Caller, CredentialID: "1f2e", CredentialType: "x509_svid"},
			Target: base.Target, Action: "call", Outcome: audit.OutcomeSuccess, RequestID: "req-1",
			Policy: &audit.Policy{Revision: 3, Rule: "payments/allow-orders"}, Trust: &audit.Trust{Score: 90},
			Details: details()}},
		{"with source", func(r *Record) { r.Source = "10.1.2.3" }, audit.Event{Time: at, Type: audit.TypeCallDecided,
			Actor: audit.Actor{Kind: "workload", ID: base.Caller, CredentialID: "1f2e", CredentialType: "x509_svid",
				RemoteAddr: "10.1.2.3"},
			Target: base.Target, Action: "POST /charge/{id}", Outcome: audit.OutcomeSuccess, RequestID: "req-1",
			Policy: &audit.Policy{Revision: 3, Rule: "payments/allow-orders"}, Trust: &audit.Trust{Score: 90},
			Details: details("path", "/charge/7")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.edit(&r)
			if diff := cmp.Diff(tt.want, r.Event(agent, "req-1")); diff != "" {
				t.Errorf("Event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefusedEvent(t *testing.T) {
	const agent = "spiffe://example.org/kith/agent/a1"
	got := RefusedEvent(agent, "req-1", []string{"record 1: bad", "record 4: worse"}, 3)
	want := audit.Event{Type: audit.TypeTelemetryRefused,
		Actor:  audit.Actor{Kind: "agent", ID: agent, CredentialType: "x509_svid"},
		Action: "upload", Outcome: audit.OutcomeFailure, RequestID: "req-1",
		Reason:  "2 invalid call records left out; first: record 1: bad",
		Details: map[string]string{"refused": "2", "recorded": "3"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RefusedEvent (-want +got):\n%s", diff)
	}
}
