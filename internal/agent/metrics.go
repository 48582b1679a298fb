package agent

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/status"
)

// metrics are the agent's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg        *prometheus.Registry
	connected  prometheus.Gauge
	reconnects prometheus.Counter
	revision   prometheus.Gauge
	svidsHeld  prometheus.Gauge
	rotations  *prometheus.CounterVec
	requests   *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kith_agent_sync_connected",
			Help: "1 while the sync stream to the server is open."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "kith_agent_sync_reconnects_total",
			Help: "Times the sync stream ended and the agent reconnected."}),
		revision: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kith_agent_sync_revision",
			Help: "Registry revision of the agent's cache."}),
		svidsHeld: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kith_agent_svids_held",
			Help: "Workload X509-SVIDs the agent holds."}),
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kith_agent_svid_rotations_total",
			Help: "SVIDs minted, by reason: new, renew, revoked, entry_changed, bundle, expired, agent."}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kith_agent_workload_api_requests_total",
			Help: "Workload API calls by method and gRPC status code."}, []string{"method", "code"}),
	}
	m.reg.MustRegister(m.connected, m.reconnects, m.revision, m.svidsHeld, m.rotations, m.requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// request counts a Workload API call.
func (m *metrics) request(method string, err error) {
	m.requests.WithLabelValues(method, status.Code(err).String()).Inc()
}

// handler serves the metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
