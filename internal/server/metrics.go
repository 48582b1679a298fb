package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
		telemetry: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kith_telemetry_records_total",
			Help: "Call records uploaded by agents: recorded, refused as invalid, or duplicate (recorded from an earlier send).",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.svidsMinted, m.authFailures, m.telemetry,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeRequest(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
