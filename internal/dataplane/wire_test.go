package dataplane

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func validRecord() CallRecord {
	return CallRecord{Time: time.Unix(1700000000, 0).UTC(), Direction: "inbound", Caller: "spiffe://example.org/a",
		Target: "spiffe://example.org/b", Method: "GET", Route: "/v1/x", Path: "/v1/x", Status: 200, Decision: "allow"}
}

func TestCallRecordValidate(t *testing.T) {
	lt := strings.Repeat("<", MaxRecordTextLen) // 6 bytes each once escaped
	tests := []struct {
		name string
		edit func(r *CallRecord)
		ok   bool
	}{
		{"valid", func(*CallRecord) {}, true},
		{"no caller", func(r *CallRecord) { r.Caller = "" }, true},
		{"longest path", func(r *CallRecord) { r.Path = strings.Repeat("a", MaxRecordTextLen) }, true},
		{"two escaped fields at their limit", func(r *CallRecord) { r.Path, r.Reason = lt, lt }, true},
		{"no target", func(r *CallRecord) { r.Target = "" }, false},
		{"target not a SPIFFE ID", func(r *CallRecord) { r.Target = "payments" }, false},
		{"caller not a SPIFFE ID", func(r *CallRecord) { r.Caller = "https://evil.example" }, false},
		{"bad direction", func(r *CallRecord) { r.Direction = "sideways" }, false},
		{"no decision", func(r *CallRecord) { r.Decision = "" }, false},
		{"no time", func(r *CallRecord) { r.Time = time.Time{} }, false},
		{"negative bytes", func(r *CallRecord) { r.BytesOut = -1 }, false},
		{"status", func(r *CallRecord) { r.Status = 1000 }, false},
		{"long path", func(r *CallRecord) { r.Path = strings.Repeat("a", MaxRecordTextLen+1) }, false},
		{"long client id", func(r *CallRecord) { r.ClientID = strings.Repeat("c", MaxRecordIDLen+1) }, false},
		{"escaped fields over the total", func(r *CallRecord) { r.Path, r.Route, r.Reason = lt, lt, lt }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRecord()
			tt.edit(&r)
			err := r.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrTelemetryBatch)) {
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

func TestTelemetryBatchHeader(t *testing.T) {
	b := TelemetryBatch{Run: "9f2c", First: 7, End: 10}
	if got, ok := ParseTelemetryBatch(b.String(), 3); !ok || got != b {
		t.Errorf("ParseTelemetryBatch(%q) = %+v, %v", b.String(), got, ok)
	}
	for _, h := range []string{"", "9f2c 7", "9f2c 7 10 x", "9f2c 10 7", "9f2c -1 2", "9f2c 7 11", strings.Repeat("r", 65) + " 0 3"} {
		if _, ok := ParseTelemetryBatch(h, 3); ok {
			t.Errorf("ParseTelemetryBatch(%q, 3) accepted", h)
		}
	}
}
