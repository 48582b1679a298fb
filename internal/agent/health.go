package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Status is the agent's state as /healthz reports it.
type Status struct {
	// SPIFFEID is the agent's own ID; empty before attestation.
	SPIFFEID string `json:"spiffe_id,omitempty"`
	// AgentSVIDExpiresAt is when the agent's SVID expires.
	AgentSVIDExpiresAt time.Time `json:"agent_svid_expires_at,omitzero"`
	// Connected says the sync stream is open.
	Connected bool `json:"connected"`
	// LastSync is when the last message (heartbeats included) arrived.
	LastSync time.Time `json:"last_sync,omitzero"`
	// Revision and RevocationsRevision are the cursors of the cache.
	Revision            int64 `json:"revision"`
	RevocationsRevision int64 `json:"revocations_revision"`
	// Entries, FederatedBundles and Revocations count what the cache holds.
	Entries          int `json:"entries"`
	FederatedBundles int `json:"federated_bundles"`
	Revocations      int `json:"revocations"`
	// SVIDs is the number of workload X509-SVIDs held, and
	// OldestSVIDExpiry the earliest expiry among them.
	SVIDs            int       `json:"svids"`
	OldestSVIDExpiry time.Time `json:"oldest_svid_expiry,omitzero"`
	// Ready says the agent can serve workloads: it has an unexpired
	// identity and a trust bundle, whether or not the server is reachable.
	Ready bool `json:"ready"`
}

// Status returns the agent's current state.
func (a *Agent) Status() Status {
	st := Status{Connected: a.connected.Load()}
	if s := a.ident.get(); s != nil {
		st.SPIFFEID = s.ID.String()
		st.AgentSVIDExpiresAt = s.Certificates[0].NotAfter.UTC()
		st.Ready = a.clock().Before(st.AgentSVIDExpiresAt) && a.state.ownBundle() != nil
	}
	if ns := a.lastSync.Load(); ns != 0 {
		st.LastSync = time.Unix(0, ns).UTC()
	}
	st.Revision, st.RevocationsRevision = a.state.cursors()
	st.Entries, st.FederatedBundles, st.Revocations = a.state.counts()
	st.SVIDs, st.OldestSVIDExpiry = a.svids.stats()
	if !st.OldestSVIDExpiry.IsZero() {
		st.OldestSVIDExpiry = st.OldestSVIDExpiry.UTC()
	}
	return st
}

// healthServer serves /healthz, /readyz and /metrics.
type healthServer struct {
	a   *Agent
	lis net.Listener
	srv *http.Server
}

func (a *Agent) listenHealth() (*healthServer, error) {
	lis, err := net.Listen("tcp", a.cfg.HealthAddr)
	if err != nil {
		return nil, fmt.Errorf("agent: health address: %w", err)
	}
	addr := lis.Addr().String()
	a.healthAddr.Store(&addr)
	h := &healthServer{a: a, lis: lis}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.Handle("GET /metrics", a.metrics.handler())
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
	return h, nil
}

// HealthAddr returns the address the health server listens on, once Run
// has bound it; "" before, or without Config.HealthAddr.
func (a *Agent) HealthAddr() string {
	if p := a.healthAddr.Load(); p != nil {
		return *p
	}
	return ""
}

func (h *healthServer) run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- h.srv.Serve(h.lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), gracefulStop)
	defer cancel()
	err := h.srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// healthz reports the status; it fails (503) only when the agent's own
// SVID has expired, which it cannot recover from without the server.
func (h *healthServer) healthz(w http.ResponseWriter, _ *http.Request) {
	st := h.a.Status()
	code := http.StatusOK
	if st.SPIFFEID != "" && !h.a.clock().Before(st.AgentSVIDExpiresAt) {
		code = http.StatusServiceUnavailable
	}
	writeStatus(w, code, st)
}

// readyz is 200 while the agent can serve workloads (from its cache if the
// server is unreachable), 503 otherwise.
func (h *healthServer) readyz(w http.ResponseWriter, _ *http.Request) {
	st := h.a.Status()
	code := http.StatusOK
	if !st.Ready {
		code = http.StatusServiceUnavailable
	}
	writeStatus(w, code, st)
}

func writeStatus(w http.ResponseWriter, code int, st Status) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(st)
}
