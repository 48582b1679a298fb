package trust

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/callrecord"
)

// callLine is the replay format, for writing test input.
type callLine struct {
	TS             string  `json:"ts"`
	Caller         string  `json:"caller"`
	Credential     string  `json:"credential,omitempty"`
	CredentialType string  `json:"credential_type,omitempty"`
	Target         string  `json:"target"`
	Method         string  `json:"method"`
	Route          string  `json:"route,omitempty"`
	Path           string  `json:"path"`
	Status         int     `json:"status"`
	ReqBytes       int64   `json:"req_bytes"`
	RespBytes      int64   `json:"resp_bytes"`
	Source         string  `json:"source,omitempty"`
	Node           string  `json:"node,omitempty"`
	LatencyMS      float64 `json:"latency_ms"`
	Decision       string  `json:"decision,omitempty"`
}

// lineOf returns c in the replay format.
func lineOf(c *Call) []byte {
	l := callLine{TS: c.Time.Format(time.RFC3339Nano), Caller: c.Caller, Credential: c.Credential, CredentialType: c.CredentialType,
		Target: c.Target, Method: c.Method, Route: c.Route, Path: c.Path, Status: c.Status, ReqBytes: c.ReqBytes,
		RespBytes: c.RespBytes, Node: c.Node, LatencyMS: float64(c.Latency) / float64(time.Millisecond), Decision: c.Decision}
	if c.Source.IsValid() {
		l.Source = c.Source.String()
	}
	b, _ := json.Marshal(l)
	return append(b, '\n')
}

// TestReplay: replaying recorded calls raises the signals the live engine
// raised, one JSON object a line in the documented shape.
func TestReplay(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	live, rec, _ := newEngine(t, nil)
	live.seed = replaySeed
	var in bytes.Buffer
	both := func(c *Call) {
		in.Write(lineOf(c))
		live.Observe(c)
	}
	start := t0.Add(days(2) + 10*time.Hour)
	w.run(t0, start, both)
	for k := range 20 { // a token replayed from another network
		c := w.call(start.Add(time.Duration(k)*time.Second), 0, k%2)
		c.Source = netip.MustParseAddr("203.0.113.50")
		both(&c)
	}
	var out bytes.Buffer
	st, err := Replay(&in, &out, ReplayConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Calls != live.Stats().Calls || st.Signals != int64(len(rec.signals)) || st.Callers != 1 || len(rec.signals) == 0 {
		t.Errorf("stats %+v; live: %+v, %d signals", st, live.Stats(), len(rec.signals))
	}
	var got []Signal
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"ts", "identity", "credential", "kind", "severity", "evidence"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("output line lacks %q: %s", k, sc.Bytes())
			}
		}
		var s Signal
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if diff := cmp.Diff(rec.signals, got); diff != "" {
		t.Errorf("replayed signals differ from live (-live +replay):\n%s", diff)
	}
}

// TestParseLineShapes: a call line, an audit export line and a bare
// ledger event of the same call parse to the same Call.
func TestParseLineShapes(t *testing.T) {
	when := time.Date(2026, 12, 8, 10, 0, 0, 123000000, time.UTC)
	want := Call{Time: when, Caller: "spiffe://example.org/billing", Credential: "jti-9", CredentialType: "dpop",
		Target: "spiffe://example.org/payments", Method: "GET", Route: "/v1/invoices/{id}", Path: "/v1/invoices/42",
		Status: 200, ReqBytes: 123, RespBytes: 4567, Source: netip.MustParseAddr("10.1.2.3"),
		Node: "spiffe://example.org/kith/agent/n1", Latency: 12500 * time.Microsecond, Decision: "allow"}
	flat := `{"ts":"2026-12-08T10:00:00.123Z","caller":"spiffe://example.org/billing","credential":"jti-9",` +
		`"credential_type":"dpop","target":"spiffe://example.org/payments","method":"GET","route":"/v1/invoices/{id}",` +
		`"path":"/v1/invoices/42","status":200,"req_bytes":123,"resp_bytes":4567,"source":"10.1.2.3",` +
		`"node":"spiffe://example.org/kith/agent/n1","latency_ms":12.5,"decision":"allow","extra":{"a":[1,2,{"b":null}]}}`

	rec := callrecord.Record{Time: when, Direction: "inbound", Caller: want.Caller, CredentialID: "jti-9", CredentialType: "dpop",
		Target: want.Target, Method: "GET", Route: "/v1/invoices/{id}", Path: "/v1/invoices/42", Status: 200,
		BytesIn: 123, BytesOut: 4567, LatencyMicros: 12500, Decision: "allow"}
	ev := rec.Event("spiffe://example.org/kith/agent/n1", "req-1")
	ev.Actor.RemoteAddr = "10.1.2.3:51234" // once the integrator records it
	evJSON, err := audit.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	export := fmt.Sprintf(`{"index":17,"event":%s}`, evJSON)
	var indented bytes.Buffer
	if err := json.Indent(&indented, []byte(export), " ", "\t "); err != nil {
		t.Fatal(err)
	}
	for name, line := range map[string]string{"flat": flat, "export": export, "event": string(evJSON), "indented": indented.String()} {
		var p lineParser
		if err := p.parse([]byte(line)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want, p.call, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	// FromRecord gives the same call from the record itself.
	got := FromRecord(&rec, netip.MustParseAddr("10.1.2.3"), "spiffe://example.org/kith/agent/n1")
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("FromRecord (-want +got):\n%s", diff)
	}
}

// TestReplayInput: other events are skipped, blank lines ignored, a
// malformed line stops the replay with its number unless skipped.
func TestReplayInput(t *testing.T) {
	in := `{"ts":"2026-12-08T10:00:00Z","caller":"spiffe://example.org/a","target":"spiffe://example.org/b"}

{"index":3,"event":{"time":"2026-12-08T10:00:01Z","type":"entry.created","actor":{"kind":"admin","id":"x"},"action":"create","outcome":"success"}}
{"ts":"2026-12-08T10:00:02Z","caller":"spiffe://example.org/a","status":"two hundred"}
{"ts":"2026-12-08T10:00:03+02:00","client_id":"reports","target":"spiffe://example.org/b"}
`
	var out bytes.Buffer
	_, err := Replay(strings.NewReader(in), &out, ReplayConfig{})
	var le *LineError
	if !errors.As(err, &le) || le.Line != 4 || !strings.Contains(err.Error(), "status") {
		t.Fatalf("Replay = %v, want a LineError on line 4 about status", err)
	}
	st, err := Replay(strings.NewReader(in), &out, ReplayConfig{SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (ReplayStats{Lines: 5, Calls: 2, Skipped: 1, Invalid: 1, Callers: 2}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	for _, bad := range []string{`[1]`, `{"ts":"yesterday"}`, `{"ts":"2026-12-08T10:00:00Z"} x`, `{"ts":"2026-12-08T10:00:00Z","source":"10.1"}`,
		`{"caller":"a"}`, `{"ts":"2026-12-08T10:00:00Z","x":01}`, `{"ts":"2026-12-08T10:00:00Z","caller":"a\x01"}`} {
		var p lineParser
		if err := p.parse([]byte(bad)); err == nil || errors.Is(err, errSkip) {
			t.Errorf("parse(%s) = %v, want an error", bad, err)
		}
	}
}

// TestParseRFC3339: the fast time parser agrees with time.Parse.
func TestParseRFC3339(t *testing.T) {
	for _, s := range []string{"2026-12-08T10:00:00Z", "2026-12-08T10:00:00.1Z", "2024-02-29T23:59:59.999999999-07:30",
		"2000-01-01T00:00:00+00:00", "1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
		"2026-12-08t10:00:00z", "2026-12-08T10:00:00.Z", "2026-12-08T24:00:00Z", "2026-12-08T10:00:00+24:00"} {
		// RFC 3339 allows a lower-case t and z, which time.Parse does not.
		want, werr := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
		got, ok := parseRFC3339(s)
		if ok && (werr != nil || !got.Equal(want)) {
			t.Errorf("parseRFC3339(%q) = %v, time.Parse = %v, %v", s, got, want, werr)
		}
	}
}

// FuzzParseLine: the line parser never panics; what it accepts is valid
// JSON, its strings are what encoding/json decodes, its times what
// time.Parse reads; a call it parsed, written again, parses the same.
func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"ts":"2026-12-08T10:00:00.123Z","caller":"spiffe://example.org/billing","credential":"c","target":"spiffe://example.org/p","method":"GET","route":"/v1/x/{id}","path":"/v1/x/4","status":200,"req_bytes":1,"resp_bytes":2,"source":"10.1.2.3","node":"n","latency_ms":1.5,"decision":"allow"}`))
	f.Add([]byte(`{"index":1,"event":{"time":"2026-12-08T10:00:00Z","type":"call.decided","actor":{"kind":"workload","id":"spiffe://x/y","credential_id":"s"},"target":"spiffe://x/z","action":"POST /a","outcome":"success","details":{"status":"201","bytes_in":"5","bytes_out":"7","latency_us":"9","decision":"allow","reported_by":"spiffe://x/agent"}}}`))
	f.Add([]byte(`{"ts":"2026-12-08T10:00:00+01:00","caller":"\u00e9\ud83d\ude00\\\"","path":"\xff\xfe","source":"[::1]:80","x":[true,false,null,-1.5e3,{}]}`))
	f.Add([]byte(`{"ts":"2026-12-08T10:00:00Z","caller":"a","status":1e2,"req_bytes":"12"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var p lineParser
		err := p.parse(line)
		if err != nil {
			return
		}
		if !json.Valid(line) {
			t.Fatalf("accepted invalid JSON %q", line)
		}
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			for key, field := range map[string]string{"caller": p.call.Caller, "target": p.call.Target, "route": p.call.Route,
				"method": p.call.Method, "credential": p.call.Credential, "node": p.call.Node, "decision": p.call.Decision} {
				if v, ok := m[key].(string); ok && v != field && !(key == "caller" && v == "") && !(key == "route" && m["event"] != nil) {
					t.Fatalf("%s = %q, encoding/json reads %q", key, field, v)
				}
			}
			if v, ok := m["ts"].(string); ok && m["event"] == nil && m["time"] == nil {
				want, err := time.Parse(time.RFC3339Nano, strings.ToUpper(v))
				if err != nil || !want.Equal(p.call.Time) {
					t.Fatalf("ts %q: got %v, time.Parse: %v, %v", v, p.call.Time, want, err)
				}
			}
		}
		var spaced bytes.Buffer // whitespace anywhere JSON allows it changes nothing
		if err := json.Indent(&spaced, line, " ", "\t"); err != nil {
			t.Fatalf("accepted %q, which json.Indent refuses: %v", line, err)
		}
		var r lineParser
		if err := r.parse(spaced.Bytes()); err != nil || !cmp.Equal(p.call, r.call, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })) {
			t.Fatalf("indented %q: %v, %+v; want %+v", line, err, r.call, p.call)
		}
		first := p.call
		first.Caller, first.Target, first.Route = strings.Clone(first.Caller), strings.Clone(first.Target), strings.Clone(first.Route)
		first.Method, first.Path, first.Credential = strings.Clone(first.Method), strings.Clone(first.Path), strings.Clone(first.Credential)
		first.CredentialType, first.Node, first.Decision = strings.Clone(first.CredentialType), strings.Clone(first.Node), strings.Clone(first.Decision)
		again := lineOf(&first)
		var q lineParser
		if err := q.parse(bytes.TrimSpace(again)); err != nil {
			t.Fatalf("re-parsing %s: %v", again, err)
		}
		first.Latency = first.Latency.Round(0)
		q.call.Latency = first.Latency // latency_ms goes through a float
		if diff := cmp.Diff(first, q.call, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
			cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Fatalf("round trip of %q (-first +again):\n%s", line, diff)
		}
	})
}
