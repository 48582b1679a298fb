package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/enforce"
)

// fillRecord copies what res says about the call into rec.
func fillRecord(rec *callrecord.Record, res *enforce.Result) {
	if !res.Caller.SPIFFEID.IsZero() {
		rec.Caller = res.Caller.SPIFFEID.String()
	}
	rec.ClientID = res.Caller.ClientID
	rec.CredentialID, rec.CredentialType = res.Credential.ID, res.Credential.Type
	rec.Decision, rec.Rule, rec.Reason = res.Action(), res.Decision.Rule.String(), string(res.Reason)
	rec.TrustScore = res.Trust.Score
	rec.PolicyRevision = res.Decision.Revision
}

// Recorder takes call records in-process, such as the behaviour engine.
// Record must not block: it is called on the request path. The record is
// as the proxy made it, its text not clipped to the record's limits.
type Recorder interface {
	Record(rec callrecord.Record)
}

// Uploader sends batches of records to the server (for the ledger and
// governance). It is called from [Telemetry.Run], never on the request
// path.
type Uploader interface {
	Upload(ctx context.Context, batch []callrecord.Record) error
}

// TelemetryConfig configures [Telemetry]. Zero values are documented
// defaults.
type TelemetryConfig struct {
	// Logger receives the access log at Info; nil discards it.
	Logger *slog.Logger
	// Recorder, if set, receives every record.
	Recorder Recorder
	// Uploader, if set, receives the records of decided calls (those
	// with a Decision: inbound and TCP, not outbound) in batches while
	// Run runs.
	Uploader Uploader
	// BatchSize is the most records per upload; 256 when zero.
	BatchSize int
	// FlushInterval is the longest a record waits for its upload: a
	// batch is sent when it is full or FlushInterval after its first
	// record, so that the trust engine sees a call well within a second
	// (an idle proxy sends nothing); DefaultFlushInterval when zero.
	FlushInterval time.Duration
	// QueueSize is how many records wait for upload before new ones are
	// dropped (and counted); 4096 when zero.
	QueueSize int
}

// DefaultFlushInterval is the longest a call record waits for its upload
// by default: short, as the behavioural-trust engine acts on the records
// (a signal must reach the proxies of other nodes within a second of the
// call that raised it), and costing nothing when the proxy is idle.
const DefaultFlushInterval = 100 * time.Millisecond

// Telemetry records calls. It is safe for concurrent use.
type Telemetry struct {
	cfg      TelemetryConfig
	log      *slog.Logger
	registry *prometheus.Registry
	queue    chan callrecord.Record

	requests *prometheus.CounterVec
	actions  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	failures *prometheus.CounterVec
	dropped  prometheus.Counter
}

// NewTelemetry returns a Telemetry with its own Prometheus registry. It
// returns an error if registering its metrics fails.
func NewTelemetry(cfg TelemetryConfig) (*Telemetry, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	t := &Telemetry{cfg: cfg, log: cfg.Logger, registry: prometheus.NewRegistry()}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Uploader != nil {
		t.queue = make(chan callrecord.Record, cfg.QueueSize)
	}
	t.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kith_proxy_requests_total", Help: "Calls handled, by direction and HTTP status."}, []string{"direction", "code"})
	t.actions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kith_proxy_decisions_total", Help: "Policy decisions, by action."}, []string{"action"})
	t.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kith_proxy_request_duration_seconds", Help: "Call latency through the proxy.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"direction"})
	t.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kith_proxy_verification_failures_total", Help: "Calls refused before policy, by reason."}, []string{"reason"})
	t.dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "kith_proxy_telemetry_dropped_total", Help: "Records dropped because the upload queue was full."})
	for _, c := range []prometheus.Collector{t.requests, t.actions, t.latency, t.failures, t.dropped} {
		if err := t.registry.Register(c); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Handler serves the metrics in the Prometheus exposition format.
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// Registry returns the registry holding the proxy's metrics.
func (t *Telemetry) Registry() *prometheus.Registry { return t.registry }

// Observe records rec: metrics, access log, Recorder and upload queue.
func (t *Telemetry) Observe(ctx context.Context, rec callrecord.Record) {
	if t == nil {
		return
	}
	t.requests.WithLabelValues(rec.Direction, strconv.Itoa(rec.Status)).Inc()
	if rec.Decision == "refused" {
		t.failures.WithLabelValues(rec.Reason).Inc()
	} else if rec.Decision != "" {
		t.actions.WithLabelValues(rec.Decision).Inc()
	}
	t.latency.WithLabelValues(rec.Direction).Observe(rec.Latency().Seconds())
	if t.log.Enabled(ctx, slog.LevelInfo) {
		t.log.LogAttrs(ctx, slog.LevelInfo, "call", slog.String("dir", rec.Direction), slog.String("caller", rec.Caller),
			slog.String("client_id", rec.ClientID), slog.String("cred", rec.CredentialType), slog.String("cred_id", rec.CredentialID),
			slog.String("target", rec.Target), slog.String("method", rec.Method), slog.String("path", rec.Path),
			slog.Int("status", rec.Status), slog.Int64("in", rec.BytesIn), slog.Int64("out", rec.BytesOut),
			slog.Duration("latency", rec.Latency()), slog.String("decision", rec.Decision), slog.String("rule", rec.Rule),
			slog.String("reason", rec.Reason), slog.Int("trust", rec.TrustScore))
	}
	if t.cfg.Recorder != nil {
		t.cfg.Recorder.Record(rec)
	}
	// Only decided calls go to the ledger: an outbound call was decided
	// by the destination's proxy, which records it; uploading this side's
	// undecided record would make the agent refuse the whole batch.
	if t.queue != nil && rec.Decision != "" {
		select {
		case t.queue <- rec:
		default:
			t.dropped.Inc()
		}
	}
}

// Run uploads queued records in batches (when full, or FlushInterval
// after their first record) until ctx is done, then uploads
// what is left with a short grace period. Without an Uploader it waits
// for ctx. It returns nil; failed uploads are logged and dropped.
func (t *Telemetry) Run(ctx context.Context) error {
	if t.queue == nil {
		<-ctx.Done()
		return nil
	}
	// linger fires FlushInterval after the first record of a batch; it
	// is stopped while the batch is empty.
	linger := time.NewTimer(t.cfg.FlushInterval)
	linger.Stop()
	defer linger.Stop()
	batch := make([]callrecord.Record, 0, t.cfg.BatchSize)
	flush := func(ctx context.Context) {
		linger.Stop()
		if len(batch) == 0 {
			return
		}
		if err := t.cfg.Uploader.Upload(ctx, batch); err != nil && !errors.Is(err, context.Canceled) {
			t.log.Warn("telemetry upload failed", "records", len(batch), "err", err)
		}
		batch = make([]callrecord.Record, 0, t.cfg.BatchSize)
	}
	for {
		select {
		case rec := <-t.queue:
			batch = append(batch, rec)
			if len(batch) == 1 {
				linger.Reset(t.cfg.FlushInterval)
			}
			if len(batch) >= t.cfg.BatchSize {
				flush(ctx)
			}
		case <-linger.C:
			flush(ctx)
		case <-ctx.Done():
			for drained := false; !drained; {
				select {
				case rec := <-t.queue:
					batch = append(batch, rec)
				default:
					drained = true
				}
			}
			grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			flush(grace)
			cancel()
			return nil
		}
	}
}

// Byte counters for the records.

// countingWriter counts the bytes of a response and keeps its status.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 { // 1xx answers are not the status
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and friends.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush flushes the underlying writer, for streaming and gRPC.
func (w *countingWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// countingBody counts the bytes read from a request body.
type countingBody struct {
	body interface {
		Read([]byte) (int, error)
		Close() error
	}
	mu sync.Mutex
	n  int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.mu.Lock()
	b.n += int64(n)
	b.mu.Unlock()
	return n, err
}

func (b *countingBody) Close() error { return b.body.Close() }

func (b *countingBody) count() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}
