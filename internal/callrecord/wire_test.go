package callrecord

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRecordJSON pins the record's JSON: proxies, agents and servers of
// different versions exchange it, so a field's name must never change.
func TestRecordJSON(t *testing.T) {
	rec := Record{Time: time.Date(2026, 11, 28, 12, 0, 0, 500, time.UTC), Direction: "inbound",
		Caller: "spiffe://example.org/a", ClientID: "c1", CredentialID: "1f2e", CredentialType: "x509_svid",
		Target: "spiffe://example.org/b", Method: "GET", Route: "/v1/{id}", Path: "/v1/7", Status: 200,
		BytesIn: 1, BytesOut: 2, LatencyMicros: 3, Decision: "allow", PolicyRevision: 4, Rule: "r", Reason: "why", TrustScore: 90}
	const want = `{"time":"2026-11-28T12:00:00.0000005Z","direction":"inbound","caller":"spiffe://example.org/a",` +
		`"client_id":"c1","credential_id":"1f2e","credential_type":"x509_svid","target":"spiffe://example.org/b",` +
		`"method":"GET","route":"/v1/{id}","path":"/v1/7","status":200,"bytes_in":1,"bytes_out":2,"latency_us":3,` +
		`"decision":"allow","policy_revision":4,"rule":"r","reason":"why","trust_score":90}`
	got, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("JSON:\n got %s\nwant %s", got, want)
	}
	const minimal = `{"time":"2026-11-28T12:00:00Z","direction":"tcp","target":"spiffe://example.org/b","status":0,` +
		`"bytes_in":0,"bytes_out":0,"latency_us":0,"decision":"refused","trust_score":0}`
	got, err = json.Marshal(Record{Time: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), Direction: "tcp",
		Target: "spiffe://example.org/b", Decision: "refused"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != minimal {
		t.Errorf("JSON of a minimal record:\n got %s\nwant %s", got, minimal)
	}
	if rec.Latency() != 3*time.Microsecond {
		t.Errorf("Latency() = %v, want 3µs", rec.Latency())
	}
	// The fields added for behavioural trust: optional, after the others.
	rec.Source, rec.Node = "10.1.2.3", "spiffe://example.org/kith/agent/n1"
	got, err = json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if w := want[:len(want)-1] + `,"source":"10.1.2.3","node":"spiffe://example.org/kith/agent/n1"}`; string(got) != w {
		t.Errorf("JSON with source and node:\n got %s\nwant %s", got, w)
	}
}

// TestRecordJSONCompat decodes the records of proxies and agents of
// other versions: an old record without source and node stays valid and
// reads as unknown; a new one's fields read back.
func TestRecordJSONCompat(t *testing.T) {
	for _, tt := range []struct {
		name, line   string
		source, node string
	}{
		{"before source and node", `{"time":"2026-11-28T12:00:00Z","direction":"inbound","caller":"spiffe://example.org/a",` +
			`"target":"spiffe://example.org/b","status":200,"bytes_in":0,"bytes_out":0,"latency_us":0,"decision":"allow","trust_score":0}`, "", ""},
		{"with source and node", `{"time":"2026-11-28T12:00:00Z","direction":"inbound","caller":"spiffe://example.org/a",` +
			`"target":"spiffe://example.org/b","status":200,"bytes_in":0,"bytes_out":0,"latency_us":0,"decision":"allow","trust_score":0,` +
			`"source":"2001:db8::7","node":"spiffe://example.org/kith/agent/n1"}`, "2001:db8::7", "spiffe://example.org/kith/agent/n1"},
		{"with unknown later fields", `{"time":"2026-11-28T12:00:00Z","direction":"tcp","target":"spiffe://example.org/b",` +
			`"status":0,"bytes_in":0,"bytes_out":0,"latency_us":0,"decision":"refused","trust_score":0,"source":"10.0.0.1","later":true}`, "10.0.0.1", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := DecodeBatch([]byte("[" + tt.line + "]"))
			if err != nil {
				t.Fatal(err)
			}
			if recs[0].Source != tt.source || recs[0].Node != tt.node {
				t.Errorf("source, node = %q, %q; want %q, %q", recs[0].Source, recs[0].Node, tt.source, tt.node)
			}
		})
	}
}

func TestSourceOf(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.2.3:4567":        "10.1.2.3",
		"[2001:db8::1]:443":    "2001:db8::1",
		"[fe80::1%eth0]:443":   "fe80::1",
		"[::ffff:10.0.0.1]:80": "10.0.0.1",
		"192.0.2.1":            "192.0.2.1",
		"@":                    "",
		"/run/kith/agent.sock": "",
		"":                     "",
		"example.org:443":      "",
	} {
		if got := SourceOf(in); got != want {
			t.Errorf("SourceOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeBatch(t *testing.T) {
	valid, _ := json.Marshal([]Record{validRecord()})
	bad := validRecord()
	bad.Target = ""
	invalid, _ := json.Marshal([]Record{validRecord(), bad})
	tooMany, _ := json.Marshal(make([]Record, MaxBatch+1))
	tests := []struct {
		name       string
		body       []byte
		okRecords  bool // DecodeRecords accepts it
		okValidate bool // DecodeBatch accepts it
	}{
		{"valid", valid, true, true},
		{"an invalid record", invalid, true, false},
		{"empty", []byte(`[]`), false, false},
		{"object", []byte(`{}`), false, false},
		{"trailing data", append(valid, '[', ']'), false, false},
		{"too many", tooMany, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeRecords(tt.body); (err == nil) != tt.okRecords {
				t.Errorf("DecodeRecords = %v, want ok %v", err, tt.okRecords)
			}
			_, err := DecodeBatch(tt.body)
			if (err == nil) != tt.okValidate {
				t.Errorf("DecodeBatch = %v, want ok %v", err, tt.okValidate)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("DecodeBatch = %v, want an error wrapping ErrInvalid", err)
			}
		})
	}
}

func TestAccept(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	ok := validRecord()
	soon := validRecord()
	soon.Time = now.Add(MaxSkew)
	future := validRecord()
	future.Time = now.Add(MaxSkew + time.Second)
	bad := validRecord()
	bad.Direction = "sideways"
	valid, refused := Accept([]Record{ok, future, soon, bad}, 10, now)
	if diff := cmp.Diff([]Record{ok, soon}, valid); diff != "" {
		t.Errorf("valid (-want +got):\n%s", diff)
	}
	want := []string{"record 11: time is in the future",
		"record 13: callrecord: invalid telemetry batch: direction must be inbound, outbound or tcp"}
	if diff := cmp.Diff(want, refused); diff != "" {
		t.Errorf("refused (-want +got):\n%s", diff)
	}
}
