package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/dataplane"
)

// Telemetry defaults; tests change them on Agent.telemetry before Run.
const (
	defaultTelemetryCap   = 8192
	defaultTelemetryBatch = 512
	defaultTelemetryFlush = 5 * time.Second // retry interval after a failure
)

// telemetryBuffer holds call records from the node's proxies until they
// are forwarded to the server. It is bounded: when full, the oldest
// records are dropped and counted. A batch the server fails is sent
// again; the server records a batch in one commit, so a record is sent
// twice only when the server's answer is lost after it committed.
type telemetryBuffer struct {
	capacity   int
	batchSize  int
	flushEvery time.Duration

	mu    sync.Mutex
	recs  []callrecord.Record
	first uint64 // sequence number of recs[0]
	wake  chan struct{}
	// run names this buffer's sequence numbers for the server (see
	// callrecord.BatchHeader).
	run string

	received, dropped, forwarded, refused prometheus.Counter
}

func newTelemetryBuffer(reg prometheus.Registerer) *telemetryBuffer {
	var run [8]byte
	rand.Read(run[:])
	b := &telemetryBuffer{capacity: defaultTelemetryCap, batchSize: defaultTelemetryBatch, flushEvery: defaultTelemetryFlush,
		wake: make(chan struct{}, 1), run: hex.EncodeToString(run[:])}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	b.received = counter("kith_agent_telemetry_received_total", "Call records received from proxies.")
	b.dropped = counter("kith_agent_telemetry_dropped_total", "Call records dropped, oldest first, because the buffer was full.")
	b.forwarded = counter("kith_agent_telemetry_forwarded_total", "Call records the server accepted.")
	b.refused = counter("kith_agent_telemetry_refused_total", "Call records the server refused as invalid (not retried).")
	reg.MustRegister(b.received, b.dropped, b.forwarded, b.refused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kith_agent_telemetry_buffered", Help: "Call records waiting to be forwarded."},
			func() float64 { return float64(b.len()) }))
	return b
}

// add appends batch, dropping the oldest records beyond capacity.
func (b *telemetryBuffer) add(batch []callrecord.Record) {
	b.mu.Lock()
	if over := len(b.recs) + len(batch) - b.capacity; over > 0 {
		if over >= len(b.recs) { // the batch alone fills the buffer
			skip := over - len(b.recs)
			b.first += uint64(over)
			b.recs = append(b.recs[:0], batch[skip:]...)
			batch = nil
		} else {
			n := copy(b.recs, b.recs[over:])
			clear(b.recs[n:])
			b.recs = b.recs[:n]
			b.first += uint64(over)
		}
		b.dropped.Add(float64(over))
	}
	b.recs = append(b.recs, batch...)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *telemetryBuffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.recs)
}

// peek returns a copy of up to batchSize of the oldest records and the
// sequence number just after them.
func (b *telemetryBuffer) peek() ([]callrecord.Record, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.recs), b.batchSize)
	return append([]callrecord.Record(nil), b.recs[:n]...), b.first + uint64(n)
}

// ack removes the records before sequence number end that are still held
// (some may have been dropped meanwhile).
func (b *telemetryBuffer) ack(end uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if end <= b.first {
		return
	}
	k := int(min(end-b.first, uint64(len(b.recs))))
	n := copy(b.recs, b.recs[k:])
	clear(b.recs[n:])
	b.recs = b.recs[:n]
	b.first += uint64(k)
}

// handleTelemetry serves POST /v1/telemetry on the data-plane socket: a
// JSON array of callrecord.Record, buffered for the server.
func (d *dataPlaneServer) handleTelemetry(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, dataplane.MaxTelemetryBody))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			http.Error(w, "telemetry batch too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	batch, err := callrecord.DecodeBatch(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest) // the proxy's own data: no secret to hide
		return
	}
	d.a.telemetry.received.Add(float64(len(batch)))
	d.a.telemetry.add(batch)
	w.WriteHeader(http.StatusAccepted)
}

// runTelemetry forwards buffered records to the server in batches of up to
// batchSize: as soon as records arrive (what arrives during a post goes in
// the next batch), and every flush interval to retry after a failure. A
// batch the server refuses as
// invalid (4xx) is dropped and counted; on other failures it is kept and
// tried again at the next interval. When ctx is done it tries once more
// with a short grace period.
func (a *Agent) runTelemetry(ctx context.Context) error {
	b := a.telemetry
	tick := time.NewTicker(b.flushEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			for a.forwardTelemetry(grace) {
			}
			return nil
		case <-tick.C:
		case <-b.wake:
		}
		for a.forwardTelemetry(ctx) {
		}
	}
}

// forwardTelemetry sends one batch and reports whether it was accepted or
// refused for good (so that the next one may follow at once).
func (a *Agent) forwardTelemetry(ctx context.Context) bool {
	b := a.telemetry
	batch, end := b.peek()
	if len(batch) == 0 {
		return false
	}
	var reply agentproto.TelemetryResponse
	id := callrecord.BatchID{Run: b.run, First: end - uint64(len(batch)), End: end}
	hdr := http.Header{callrecord.BatchHeader: {id.String()}}
	err := postJSONHeader(ctx, a.httpClient(), a.serverURL, agentproto.TelemetryPath, hdr, batch, &reply)
	switch st := statusOf(err); {
	case err == nil:
		refused := min(max(reply.Refused, 0), len(batch))
		b.forwarded.Add(float64(len(batch) - refused))
		if refused > 0 {
			b.refused.Add(float64(refused))
			a.logger.Warn("telemetry: the server left out invalid records", "records", len(batch), "refused", refused)
		}
	case st >= 400 && st < 500 && st != http.StatusTooManyRequests && st != http.StatusRequestTimeout:
		b.refused.Add(float64(len(batch)))
		a.logger.Warn("telemetry: the server refused a batch; dropped", "records", len(batch), "error", err)
	default:
		if ctx.Err() == nil {
			a.logger.Warn("telemetry: forwarding failed; will retry", "records", len(batch), "error", err)
		}
		return false
	}
	b.ack(end)
	return true
}
