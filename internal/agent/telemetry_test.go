package agent

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/dataplane"
)

func testRecord(path string) callrecord.Record {
	return callrecord.Record{Time: time.Unix(1700000000, 0).UTC(), Direction: "inbound", Target: "spiffe://example.org/b",
		Method: "GET", Path: path, Status: 200, Decision: "allow"}
}

func paths(recs []callrecord.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Path)
	}
	return out
}

// TestTelemetryBufferDropsOldest fills the buffer past its capacity.
func TestTelemetryBufferDropsOldest(t *testing.T) {
	b := newTelemetryBuffer(prometheus.NewRegistry())
	b.capacity, b.batchSize = 3, 2
	b.add([]callrecord.Record{testRecord("/1"), testRecord("/2")})
	batch, end := b.peek() // in flight: /1 /2
	b.add([]callrecord.Record{testRecord("/3"), testRecord("/4")})
	if diff := cmp.Diff([]string{"/1", "/2"}, paths(batch)); diff != "" {
		t.Errorf("peek (-want +got):\n%s", diff)
	}
	if got := counterValue(t, b.dropped); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
	b.ack(end) // /1 was dropped meanwhile: only /2 goes
	if batch, _ := b.peek(); !cmp.Equal(paths(batch), []string{"/3", "/4"}) {
		t.Errorf("after ack: %v, want [/3 /4]", paths(batch))
	}
	b.add([]callrecord.Record{testRecord("/5"), testRecord("/6"), testRecord("/7"), testRecord("/8")})
	b.batchSize = 10
	if batch, _ := b.peek(); !cmp.Equal(paths(batch), []string{"/6", "/7", "/8"}) {
		t.Errorf("after an oversized batch: %v, want [/6 /7 /8]", paths(batch))
	}
	if got := counterValue(t, b.dropped); got != 4 {
		t.Errorf("dropped = %v, want 4", got)
	}
}

// TestDataPlaneTelemetry posts batches to the data-plane handler.
func TestDataPlaneTelemetry(t *testing.T) {
	d := &dataPlaneServer{a: &Agent{telemetry: newTelemetryBuffer(prometheus.NewRegistry())}}
	valid, _ := json.Marshal([]callrecord.Record{testRecord("/a")})
	noTarget := testRecord("/a")
	noTarget.Target = ""
	bad, _ := json.Marshal([]callrecord.Record{noTarget})
	tests := []struct {
		name string
		body []byte
		want int
	}{
		{"valid", valid, http.StatusAccepted},
		{"not JSON", []byte("{"), http.StatusBadRequest},
		{"object", []byte(`{"target":"x"}`), http.StatusBadRequest},
		{"empty", []byte(`[]`), http.StatusBadRequest},
		{"invalid record", bad, http.StatusBadRequest},
		{"trailing data", append(append([]byte{}, valid...), valid...), http.StatusBadRequest},
		{"too large", []byte("[" + strings.Repeat(" ", dataplane.MaxTelemetryBody) + "]"), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			d.handleTelemetry(w, httptest.NewRequest(http.MethodPost, dataplane.TelemetryPath, bytes.NewReader(tt.body)))
			if w.Code != tt.want {
				t.Errorf("POST %s = %d %s, want %d", tt.name, w.Code, w.Body, tt.want)
			}
		})
	}
	if n := d.a.telemetry.len(); n != 1 {
		t.Errorf("buffered %d records, want 1", n)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// FuzzDataPlaneTelemetry posts arbitrary bodies to the data-plane
// telemetry handler: it answers 202, 400 or 413, never panics, and
// buffers only valid records.
func FuzzDataPlaneTelemetry(f *testing.F) {
	valid, _ := json.Marshal([]callrecord.Record{testRecord("/a")})
	f.Add(valid)
	f.Add([]byte(`[{"time":"2026-11-28T00:00:00Z","direction":"inbound","target":"spiffe://example.org/b","decision":"allow","caller":"x"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"target":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d := &dataPlaneServer{a: &Agent{telemetry: newTelemetryBuffer(prometheus.NewRegistry())}}
		w := httptest.NewRecorder()
		d.handleTelemetry(w, httptest.NewRequest(http.MethodPost, dataplane.TelemetryPath, bytes.NewReader(body)))
		switch w.Code {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("answer %d", w.Code)
		}
		recs, _ := d.a.telemetry.peek()
		for i := range recs {
			if err := recs[i].Validate(); err != nil {
				t.Fatalf("buffered an invalid record: %v", err)
			}
		}
	})
}
