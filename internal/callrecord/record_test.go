package callrecord

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func validRecord() Record {
	return Record{Time: time.Unix(1700000000, 0).UTC(), Direction: "inbound", Caller: "spiffe://example.org/a",
		Target: "spiffe://example.org/b", Method: "GET", Route: "/v1/x", Path: "/v1/x", Status: 200, Decision: "allow"}
}

func TestRecordValidate(t *testing.T) {
	lt := strings.Repeat("<", MaxTextLen) // 6 bytes each once escaped
	tests := []struct {
		name string
		edit func(r *Record)
		ok   bool
	}{
		{"valid", func(*Record) {}, true},
		{"no caller", func(r *Record) { r.Caller = "" }, true},
		{"longest path", func(r *Record) { r.Path = strings.Repeat("a", MaxTextLen) }, true},
		{"two escaped fields at their limit", func(r *Record) { r.Path, r.Reason = lt, lt }, true},
		{"source and node", func(r *Record) { r.Source, r.Node = "10.1.2.3", "spiffe://example.org/kith/agent/n1" }, true},
		{"IPv6 source", func(r *Record) { r.Source = "2001:db8::1" }, true},
		{"source with a port", func(r *Record) { r.Source = "10.1.2.3:80" }, false},
		{"source with a zone", func(r *Record) { r.Source = "fe80::1%eth0" }, false},
		{"source not an address", func(r *Record) { r.Source = "example.org" }, false},
		{"node not a SPIFFE ID", func(r *Record) { r.Node = "n1" }, false},
		{"no target", func(r *Record) { r.Target = "" }, false},
		{"target not a SPIFFE ID", func(r *Record) { r.Target = "payments" }, false},
		{"caller not a SPIFFE ID", func(r *Record) { r.Caller = "https://evil.example" }, false},
		{"bad direction", func(r *Record) { r.Direction = "sideways" }, false},
		{"no decision", func(r *Record) { r.Decision = "" }, false},
		{"no time", func(r *Record) { r.Time = time.Time{} }, false},
		{"negative bytes", func(r *Record) { r.BytesOut = -1 }, false},
		{"status", func(r *Record) { r.Status = 1000 }, false},
		{"long path", func(r *Record) { r.Path = strings.Repeat("a", MaxTextLen+1) }, false},
		{"long client id", func(r *Record) { r.ClientID = strings.Repeat("c", MaxIDLen+1) }, false},
		{"escaped fields over the total", func(r *Record) { r.Path, r.Route, r.Reason = lt, lt, lt }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRecord()
			tt.edit(&r)
			err := r.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Errorf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestClipText(t *testing.T) {
	for _, tt := range []struct {
		in    string
		limit int
		want  string
	}{
		{"/v1/x", 10, "/v1/x"},
		{"/v1/x", 3, "/v1"},
		{"a<b", 6, "a"}, // '<' takes six bytes
		{"a<b", 7, "a<"},
		{"é€", 4, "é"},             // never half a character
		{"a\xffb", 10, "a\uFFFDb"}, // invalid UTF-8 repaired
	} {
		if got := ClipText(tt.in, tt.limit); got != tt.want {
			t.Errorf("ClipText(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

func TestBatchHeader(t *testing.T) {
	b := BatchID{Run: "9f2c", First: 7, End: 10}
	if got, ok := ParseBatchID(b.String(), 3); !ok || got != b {
		t.Errorf("ParseBatchID(%q) = %+v, %v", b.String(), got, ok)
	}
	for _, h := range []string{"", "9f2c 7", "9f2c 7 10 x", "9f2c 10 7", "9f2c -1 2", "9f2c 7 11", strings.Repeat("r", 65) + " 0 3"} {
		if _, ok := ParseBatchID(h, 3); ok {
			t.Errorf("ParseBatchID(%q, 3) accepted", h)
		}
	}
}
