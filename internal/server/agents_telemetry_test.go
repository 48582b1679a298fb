package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/store"
)

// callRecord returns a valid record of an allowed inbound call.
func callRecord() callrecord.Record {
	return callrecord.Record{Time: time.Now().UTC().Truncate(time.Microsecond), Direction: "inbound",
		Caller: "spiffe://example.org/orders", CredentialID: "1f2e", CredentialType: "x509_svid",
		Target: "spiffe://example.org/payments", Method: "POST", Route: "/charge/{id}", Path: "/charge/7",
		Status: 200, BytesIn: 12, BytesOut: 34, LatencyMicros: 250, Decision: "allow",
		PolicyRevision: 3, Rule: "payments/allow-orders", TrustScore: 90}
}

func TestAgentTelemetryRecordsCalls(t *testing.T) {
	ts := startServer(t, "example.org")
	a := ts.attestAgent(t)
	allowed := callRecord()
	denied := callRecord()
	denied.Caller, denied.Decision, denied.Reason, denied.Status, denied.Rule = "spiffe://example.org/intruder", "deny", "policy_denied", 403, "payments/deny-all"

	var out agentproto.TelemetryResponse
	if code, raw := a.do(t, ts, "POST", "/agent/v1/telemetry", []callrecord.Record{allowed, denied}, &out); code != http.StatusOK || out.Recorded != 2 {
		t.Fatalf("POST telemetry: %d %s", code, raw)
	}
	ok := ts.events(t, audit.TypeCallDecided, "success")
	if len(ok) != 1 {
		t.Fatalf("%d allowed calls in the ledger, want 1", len(ok))
	}
	var ev audit.Event
	if err := json.Unmarshal(ok[0].Body, &ev); err != nil {
		t.Fatal(err)
	}
	want := audit.Event{Time: allowed.Time, Type: audit.TypeCallDecided,
		Actor:  audit.Actor{Kind: "workload", ID: allowed.Caller, CredentialID: "1f2e", CredentialType: "x509_svid"},
		Target: allowed.Target, Action: "POST /charge/{id}", Outcome: audit.OutcomeSuccess,
		Policy: &audit.Policy{Revision: 3, Rule: "payments/allow-orders"}, Trust: &audit.Trust{Score: 90},
		Details: map[string]string{"direction": "inbound", "decision": "allow", "status": "200", "bytes_in": "12",
			"bytes_out": "34", "latency_us": "250", "reported_by": a.SPIFFEID, "path": "/charge/7"}}
	if diff := cmp.Diff(want, ev, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "RequestID" }, cmp.Ignore())); diff != "" {
		t.Errorf("call.decided event (-want +got):\n%s", diff)
	}
	if d := ts.events(t, audit.TypeCallDecided, "denied"); len(d) != 1 || d[0].Actor != denied.Caller {
		t.Errorf("denied calls in the ledger: %+v", d)
	}
}

func TestAgentTelemetryRefusesBadBatches(t *testing.T) {
	ts := startServer(t, "example.org")
	a := ts.attestAgent(t)
	tooMany := make([]callrecord.Record, callrecord.MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = callRecord()
	}
	huge := callRecord()
	huge.Path = strings.Repeat("a", 1000)
	tooLarge := make([]callrecord.Record, 5000) // over 4 MiB
	for i := range tooLarge {
		tooLarge[i] = huge
	}
	tests := []struct {
		name string
		body any
		want int
	}{
		{"object, not array", map[string]string{"target": "x"}, http.StatusBadRequest},
		{"empty", []callrecord.Record{}, http.StatusBadRequest},
		{"too many records", tooMany, http.StatusBadRequest},
		{"body too large", tooLarge, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, raw := a.do(t, ts, "POST", "/agent/v1/telemetry", tt.body, nil); code != tt.want {
				t.Errorf("POST telemetry: %d %s, want %d", code, raw, tt.want)
			}
		})
	}
	if evs := ts.events(t, audit.TypeCallDecided, ""); len(evs) != 0 {
		t.Errorf("%d events recorded from refused batches, want 0", len(evs))
	}
}

// TestAgentTelemetryLeavesOutBadRecords: an invalid record is left out of
// the ledger, counted and its refusal recorded, and the valid records of
// the same batch (other proxies' calls, merged by the agent) are recorded.
func TestAgentTelemetryLeavesOutBadRecords(t *testing.T) {
	ts := startServer(t, "example.org")
	a := ts.attestAgent(t)
	escaped := strings.Repeat("<", callrecord.MaxTextLen) // six bytes each once escaped
	tests := []struct {
		name string
		edit func(r *callrecord.Record)
	}{
		{"target not a SPIFFE ID", func(r *callrecord.Record) { r.Target = "payments" }},
		{"caller not a SPIFFE ID", func(r *callrecord.Record) { r.Caller = "https://evil" }},
		{"no decision", func(r *callrecord.Record) { r.Decision = "" }},
		{"bad direction", func(r *callrecord.Record) { r.Direction = "sideways" }},
		{"negative bytes", func(r *callrecord.Record) { r.BytesIn = -1 }},
		{"future time", func(r *callrecord.Record) { r.Time = time.Now().Add(time.Hour) }},
		{"long path", func(r *callrecord.Record) { r.Path = strings.Repeat("a", callrecord.MaxTextLen+1) }},
		{"text too long once escaped", func(r *callrecord.Record) { r.Path, r.Route, r.Reason = escaped, escaped, escaped }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := callRecord()
			tt.edit(&bad)
			good := callRecord()
			good.Route = fmt.Sprint("/case/", i)
			var out agentproto.TelemetryResponse
			code, raw := a.do(t, ts, "POST", "/agent/v1/telemetry", []callrecord.Record{bad, good}, &out)
			if code != http.StatusOK || out.Recorded != 1 || out.Refused != 1 {
				t.Fatalf("POST telemetry: %d %s, want 200 with 1 recorded and 1 refused", code, raw)
			}
		})
	}
	if evs := ts.events(t, audit.TypeCallDecided, ""); len(evs) != len(tests) {
		t.Errorf("%d calls recorded, want the %d valid ones", len(evs), len(tests))
	}
	if evs := ts.events(t, audit.TypeTelemetryRefused, "failure"); len(evs) != len(tests) || evs[0].Actor != a.SPIFFEID {
		t.Errorf("telemetry.refused events: %+v, want %d by the agent", evs, len(tests))
	}
}

func TestAgentTelemetryNeedsAgent(t *testing.T) {
	ts := startServer(t, "example.org")
	code, raw := agentRequest(t, ts.client, ts.Addr(), "POST", "/agent/v1/telemetry", []callrecord.Record{callRecord()}, nil)
	if code != http.StatusUnauthorized {
		t.Errorf("POST telemetry without a client certificate: %d %s, want 401", code, raw)
	}
	if evs := ts.events(t, audit.TypeCallDecided, ""); len(evs) != 0 {
		t.Errorf("%d events recorded, want 0", len(evs))
	}
}

// BenchmarkAgentTelemetry measures one batch of 512 records, end to end
// through the agent API into the ledger.
func BenchmarkAgentTelemetry(b *testing.B) {
	ts := startServer(b, "example.org")
	a := ts.attestAgent(b)
	batch := make([]callrecord.Record, 512)
	for i := range batch {
		batch[i] = callRecord()
	}
	for b.Loop() {
		if code, raw := a.do(b, ts, "POST", "/agent/v1/telemetry", batch, nil); code != http.StatusOK {
			b.Fatalf("POST telemetry: %d %s", code, raw)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/record")
}

// TestAgentTelemetryResentBatch: a batch the agent sends again (its
// answer lost) is recognised by its sequence numbers and not recorded
// twice, also when the resent batch grew; another agent run, or a batch
// without numbers, is recorded as sent.
func TestAgentTelemetryResentBatch(t *testing.T) {
	ts := startServer(t, "example.org")
	a := ts.attestAgent(t)
	send := func(header string, n int) agentproto.TelemetryResponse {
		t.Helper()
		batch := make([]callrecord.Record, n)
		for i := range batch {
			batch[i] = callRecord()
		}
		return postTelemetry(t, ts, a, header, batch)
	}
	steps := []struct {
		header    string
		n         int
		want, dup int
	}{
		{"run1 0 3", 3, 3, 0},
		{"run1 0 3", 3, 0, 3}, // sent again
		{"run1 1 5", 4, 2, 2}, // sent again, oldest dropped, two new
		{"run1 5 6", 1, 1, 0},
		{"run2 0 2", 2, 2, 0}, // the agent restarted
		{"", 2, 2, 0},         // no numbers
		{"run2 0 5", 2, 2, 0}, // numbers that do not fit the batch are ignored
	}
	total := 0
	for i, st := range steps {
		out := send(st.header, st.n)
		if out.Recorded != st.want || out.Duplicates != st.dup {
			t.Errorf("step %d (%q): recorded %d, duplicates %d; want %d, %d", i, st.header, out.Recorded, out.Duplicates, st.want, st.dup)
		}
		total += st.want
	}
	if evs := ts.events(t, audit.TypeCallDecided, ""); len(evs) != total {
		t.Errorf("%d calls recorded, want %d", len(evs), total)
	}
	for outcome, want := range map[string]float64{"recorded": float64(total), "duplicate": 5, "refused": 0} {
		var m dto.Metric
		if err := ts.metrics.telemetry.WithLabelValues(outcome).Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != want {
			t.Errorf("kith_telemetry_records_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
}

// postTelemetry posts batch as agent a, numbered with the batch header
// when header is not empty, and returns the server's 200 answer.
func postTelemetry(t testing.TB, ts *testServer, a *testAgent, header string, batch []callrecord.Record) agentproto.TelemetryResponse {
	t.Helper()
	body, _ := json.Marshal(batch)
	req, _ := http.NewRequest("POST", "https://"+ts.Addr()+"/agent/v1/telemetry", bytes.NewReader(body))
	req.Header.Set(agentproto.ProtocolHeader, agentproto.ProtocolVersion)
	req.Header.Set("Content-Type", "application/json")
	if header != "" {
		req.Header.Set(callrecord.BatchHeader, header)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out agentproto.TelemetryResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST telemetry: %d, %v", resp.StatusCode, err)
	}
	return out
}

// observedCalls is one ObserveCalls call: the agent, the records, and how
// many call.decided events the ledger held at the time.
type observedCalls struct {
	Agent    string
	Records  []callrecord.Record
	InLedger int
}

// callObserver is a CallObserver that remembers its calls.
type callObserver struct {
	ts    *testServer // set once the server runs
	mu    sync.Mutex
	calls []observedCalls
	errs  []error
}

func (o *callObserver) ObserveCalls(agent spiffeid.ID, records []callrecord.Record) {
	evs, err := o.ts.store.ListEvents(context.Background(), store.EventFilter{Type: audit.TypeCallDecided, After: -1, Limit: 1000})
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.errs = append(o.errs, err)
	}
	o.calls = append(o.calls, observedCalls{Agent: agent.String(), Records: records, InLedger: len(evs)})
}

// TestAgentTelemetryCallObserver: Config.CallObserver is given exactly the
// records the server committed to the ledger, after the commit, and
// nothing for records left out as invalid or as duplicates.
func TestAgentTelemetryCallObserver(t *testing.T) {
	obs := &callObserver{}
	ts := startServer(t, "example.org", func(c *Config) { c.CallObserver = obs })
	obs.ts = ts
	a := ts.attestAgent(t)
	rec := func(route string) callrecord.Record {
		r := callRecord()
		r.Route = route
		return r
	}
	bad := callRecord()
	bad.Target = "payments"
	first := []callrecord.Record{rec("/1"), bad, rec("/2")}
	steps := []struct {
		header string
		batch  []callrecord.Record
	}{
		{"run1 0 3", first},                               // two valid, one invalid
		{"run1 0 3", first},                               // sent again: all duplicates
		{"run1 3 4", []callrecord.Record{bad}},            // only an invalid record
		{"run1 3 5", []callrecord.Record{bad, rec("/3")}}, // sent again with one new record
		{"", []callrecord.Record{rec("/4")}},              // not numbered
	}
	for _, st := range steps {
		postTelemetry(t, ts, a, st.header, st.batch)
	}
	// The server sets each record's node to the agent that uploaded it.
	node := func(r callrecord.Record) callrecord.Record { return r.FromAgent(a.SPIFFEID) }
	want := []observedCalls{
		{Agent: a.SPIFFEID, Records: []callrecord.Record{node(first[0]), node(first[2])}, InLedger: 2},
		{Agent: a.SPIFFEID, Records: []callrecord.Record{node(rec("/3"))}, InLedger: 3},
		{Agent: a.SPIFFEID, Records: []callrecord.Record{node(rec("/4"))}, InLedger: 4},
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.errs) > 0 {
		t.Fatalf("reading the ledger: %v", obs.errs)
	}
	ignoreTime := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Time" }, cmp.Ignore())
	if diff := cmp.Diff(want, obs.calls, ignoreTime); diff != "" {
		t.Errorf("ObserveCalls calls (-want +got):\n%s", diff)
	}
}
