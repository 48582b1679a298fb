package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kith-dev/kith/internal/ledger"
)

// metrics are the server's Prometheus metrics, in a registry of its own so
// that several servers can run in one process (tests, kith dev).
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	svidsMinted  *prometheus.CounterVec
	authFailures prometheus.Counter
	// telemetry counts the call records agents upload, by outcome.
	telemetry *prometheus.CounterVec
	// ledgerVerifyFailures counts the verifications of the ledger that
	// found it altered.
	ledgerVerifyFailures prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kith_http_requests_total", Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kith_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"route"}),
		svidsMinted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kith_svids_minted_total", Help: "SVIDs minted through the admin API, by type.",
		}, []string{"type"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kith_admin_auth_failures_total", Help: "Admin API requests refused for a missing or wrong credential.",
		}),
		ledgerVerifyFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kith_ledger_verification_failures_total",
			Help: "Verifications of the audit ledger's store (at start, and of the whole log periodically) that found it altered; the server is not ready after one.",
		}),
		telemetry: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kith_telemetry_records_total",
			Help: "Call records uploaded by agents: recorded, refused as invalid, or duplicate (recorded from an earlier send).",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.svidsMinted, m.authFailures, m.telemetry, m.ledgerVerifyFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// registerLedger exports the audit ledger's counters (ledger.Stats).
func (m *metrics) registerLedger(l *ledger.Ledger) {
	stat := func(f func(st ledger.Stats) float64) func() float64 {
		return func() float64 { return f(l.Stats()) }
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kith_ledger_tree_size", Help: "Entries in the audit ledger's Merkle tree."},
			stat(func(st ledger.Stats) float64 { return float64(st.TreeSize) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kith_ledger_events_appended_total", Help: "Events this server appended to the audit ledger."},
			stat(func(st ledger.Stats) float64 { return float64(st.Events) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kith_ledger_commits_total", Help: "Group commits of the audit ledger that succeeded."},
			stat(func(st ledger.Stats) float64 { return float64(st.Commits) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kith_ledger_commit_failures_total", Help: "Group commits of the audit ledger that failed (their events were not recorded)."},
			stat(func(st ledger.Stats) float64 { return float64(st.CommitFailures) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kith_ledger_commit_seconds_total", Help: "Time spent in audit ledger commits."},
			stat(func(st ledger.Stats) float64 { return st.CommitTime.Seconds() })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kith_ledger_checkpoint_size", Help: "Tree size of the latest signed checkpoint."},
			stat(func(st ledger.Stats) float64 { return float64(st.CheckpointSize) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kith_ledger_checkpoint_timestamp_seconds", Help: "When the latest signed checkpoint was published (Unix time; 0 before the first)."},
			stat(func(st ledger.Stats) float64 {
				if st.CheckpointTime.IsZero() {
					return 0
				}
				return float64(st.CheckpointTime.UnixNano()) / 1e9
			})),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kith_ledger_publish_failures_total", Help: "Checkpoint intervals in which no checkpoint could be published (store, witnesses short of quorum, refusal to sign)."},
			stat(func(st ledger.Stats) float64 { return float64(st.PublishFailures) })),
	)
}

// registerLedgerHealth exports the outcome of the ledger's periodic
// verification.
func (m *metrics) registerLedgerHealth(h *ledgerHealth) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kith_ledger_verified_timestamp_seconds",
			Help: "When the whole audit ledger last verified (Unix time; 0 before the first verification)."}, h.verifiedTime),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kith_ledger_verified_size",
			Help: "Size of the checkpoint the last verification of the whole audit ledger covered."}, h.verifiedTreeSize),
	)
}

func (m *metrics) observeRequest(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
