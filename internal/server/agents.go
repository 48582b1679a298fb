package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/nodes"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/revocation/revocationstore"
	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/synchub"
)

// agentPlane is the server side of node agents: attestation and agent
// records (nodes), the sync hub that streams changes to agents, and the
// revocation set they both write and read.
type agentPlane struct {
	nodes       *nodes.Service
	hub         *synchub.Hub
	revocations *revocation.Set
	// announce asks announceChanges to tell the other replicas.
	announce chan struct{}
	// listening is closed once watchChanges listens for the other
	// replicas' notices (never on SQLite), for tests that must not change
	// anything before.
	listening     chan struct{}
	listeningOnce sync.Once
}

// changed wakes this replica's sync hub after a change made here, and has
// the other replicas sharing the store woken too (see store.Announce). It
// never blocks.
func (p *agentPlane) changed() {
	p.hub.Notify()
	select {
	case p.announce <- struct{}{}:
	default: // an announce is pending already; it covers this change
	}
}

// announceChanges announces this replica's changes to the others, one
// notice for however many changes queued meanwhile, until ctx is done.
func (s *Server) announceChanges(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.agents.announce:
		}
		if err := s.store.Announce(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "announcing a change to other replicas; they see it at their next poll", "error", err)
		}
	}
}

// watchChanges wakes the sync hub, refreshes the revocation set and has
// the token service check for entry changes when another replica
// announces a change, until ctx is done.
func (s *Server) watchChanges(ctx context.Context) error {
	return s.store.Watch(ctx, func() {
		if s.oauth != nil {
			if err := s.oauth.svc.CheckChanges(ctx); err != nil && ctx.Err() == nil {
				s.logger.WarnContext(ctx, "token service: entry changes after a change notice", "error", err)
			}
		}
		if err := s.agents.revocations.Sync(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "revocation sync after a change notice", "error", err)
		}
		s.agents.hub.Notify()
		s.agents.listeningOnce.Do(func() { close(s.agents.listening) })
	})
}

// buildNodes builds the agent plane. It must run after the CA, the
// registry, the federation manager and the metrics are built. It returns
// an error naming the part that failed.
func (s *Server) buildNodes(ctx context.Context) error {
	hcfg := synchub.Config{
		Entries: s.store, Tombstones: s.store, Revocations: s.store,
		Signer: s.ca, Bundle: s.ca, Federated: s.fed, TokenKeys: lateTokenKeys{s},
		Clock: s.clock, Logger: s.logger,
		Policies: s.store, PollInterval: s.cfg.ReplicaPollInterval,
	}
	if s.trust != nil {
		hcfg.Trust = s.trust.host
	}
	hub, err := synchub.New(ctx, hcfg)
	if err != nil {
		return fmt.Errorf("sync hub: %w", err)
	}
	// One revocation set for the whole server (agents and tokens).
	revs, err := revocation.New(ctx, revocation.Config{Store: revocationstore.New(s.store), Clock: s.clock, Logger: s.logger,
		SyncInterval: s.cfg.ReplicaPollInterval})
	if err != nil {
		return fmt.Errorf("revocation set: %w", err)
	}
	caTTL := s.cfg.CATTL
	if caTTL == 0 {
		caTTL = ca.DefaultCATTL
	}
	plane := &agentPlane{hub: hub, revocations: revs, announce: make(chan struct{}, 1), listening: make(chan struct{})}
	svc, err := nodes.New(nodes.Config{
		TrustDomain: s.td, Store: s.store, CA: s.ca, Entries: s.registry, Revocations: revs,
		Auditor: s.ledger, MaxSVIDTTL: caTTL, Changed: plane.changed, Clock: s.clock, Logger: s.logger,
	})
	if err != nil {
		return fmt.Errorf("nodes: %w", err)
	}
	plane.nodes = svc
	s.agents = plane
	s.metrics.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kith_sync_streams", Help: "Connected agent sync streams."},
			func() float64 { return float64(hub.Stats().Streams) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kith_sync_messages_total", Help: "Change messages queued to agent streams."},
			func() float64 { return float64(hub.Stats().Sent) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kith_sync_dropped_streams_total", Help: "Agent streams closed because the agent fell behind."},
			func() float64 { return float64(hub.Stats().Dropped) }),
	)
	return nil
}

// lateTokenKeys gives the hub the token service's keys; the token service
// is built after the hub, so it is looked up at each call (the hub polls).
type lateTokenKeys struct{ s *Server }

func (k lateTokenKeys) TokenKeys() ([]byte, int64) {
	if k.s.oauth == nil {
		return nil, 0
	}
	return k.s.oauth.svc.TokenKeys()
}

func (k lateTokenKeys) Issuer() string {
	if k.s.oauth == nil {
		return ""
	}
	return k.s.oauth.svc.Issuer()
}

// runAgents runs the agent plane's long-lived parts until ctx is done.
func (s *Server) runAgents(ctx context.Context) error {
	return runTasks(ctx, []task{
		{"sync-hub", s.agents.hub.Run},
		{"revocations", s.agents.revocations.Run},
		{"nodes", s.agents.nodes.Run},
		{"announce-changes", s.announceChanges},
		{"watch-changes", s.watchChanges},
	})
}

// registryAuditor records the registry's events in the ledger and tells the
// sync hub that entries changed, so that agents learn of it at once.
type registryAuditor struct{ s *Server }

// Record implements registry.Auditor: the registry records refused
// changes with it.
func (a registryAuditor) Record(ctx context.Context, ev audit.Event) (int64, error) {
	return a.s.ledger.Record(ctx, ev)
}

// RecordTx implements registry.Auditor.
func (a registryAuditor) RecordTx(ctx context.Context, tx ledger.EventAppender, ev audit.Event) error {
	return a.s.ledger.RecordTx(ctx, tx, ev)
}

// Adopt implements registry.Auditor. The registry calls it after each
// change it committed: the token service forgets the entries it cached
// (a quarantined entry gets no token from the next request on), the
// revocation set reads the holds the change wrote (see entryHook), and
// the hub is told.
func (a registryAuditor) Adopt(ctx context.Context) error {
	if a.s.oauth != nil {
		a.s.oauth.svc.EntriesChanged()
	}
	if a.s.agents != nil {
		if err := a.s.agents.revocations.Sync(ctx); err != nil {
			a.s.logger.WarnContext(ctx, "revocation sync after an entry change; it is retried at the next sync", "error", err)
		}
		a.s.agents.changed()
	}
	return a.s.ledger.Adopt(ctx)
}

// entryHook is the registry's hook: in the transaction of each entry
// update and deletion, the token service holds (or releases) the tokens
// of the entry's clients. The token service is built after the registry,
// so it is looked up at each call.
type entryHook struct{ s *Server }

// EntryChanged implements registry.Hook.
func (h entryHook) EntryChanged(ctx context.Context, tx *store.Tx, e registry.Entry, deleted bool) error {
	if h.s.oauth == nil {
		return nil
	}
	return h.s.oauth.svc.EntryChanged(ctx, tx, e, deleted)
}

// agentRoute is a route of the agent API under /agent/v1. Agents
// authenticate with their X509-SVID over mutual TLS, except to attest.
type agentRoute struct {
	pattern string
	handle  http.HandlerFunc
	// stream marks a long-lived response: it is not timed as a request,
	// and its writer must stay flushable.
	stream bool
}

// agentRoutes lists the agent API (see package agentproto for the protocol).
func (s *Server) agentRoutes() []agentRoute {
	return []agentRoute{
		{"POST " + agentproto.AttestPath, s.agentHandler(s.agentAttest), false},
		{"POST " + agentproto.RenewPath, s.agentAuthed(s.agentRenew), false},
		{"POST " + agentproto.X509SVIDsPath, s.agentAuthed(s.agentX509SVIDs), false},
		{"POST " + agentproto.JWTSVIDPath, s.agentAuthed(s.agentJWTSVID), false},
		{"POST " + agentproto.TelemetryPath, s.agentAuthed(s.agentTelemetry), false},
		{"GET " + agentproto.SyncPath, s.agentAuthed(s.agentSync), true},
	}
}

// agentAdminRoutes lists the admin API routes of agents and entry
// actions; they join allAdminRoutes.
func (s *Server) agentAdminRoutes() []route {
	return []route{
		{"POST /v1/agents/join-tokens", s.createJoinToken},
		{"GET /v1/agents", s.listAgents},
		{"GET /v1/agents/{id}", s.getAgent},
		{"POST /v1/agents/{id}/evict", s.evictAgent},
		{"POST /v1/entries/{id}/revoke", s.revokeEntry},
		{"POST /v1/entries/{id}/quarantine", s.quarantineEntry},
		{"POST /v1/entries/{id}/release", s.releaseEntry},
	}
}

// mountAgentRoutes adds the agent API to mux.
func (s *Server) mountAgentRoutes(mux *http.ServeMux) {
	for _, rt := range s.agentRoutes() {
		if rt.stream {
			mux.Handle(rt.pattern, rt.handle) // counted by the kith_sync_* metrics
			continue
		}
		mux.Handle(rt.pattern, s.instrument(rt.pattern, rt.handle))
	}
}

// nodesError is the one place that gives errors of package nodes their
// status and public text, on the agent API and the admin API alike; other
// errors are left to writeError.
func nodesError(err error) error {
	var inactive *nodes.InactiveError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nodes.ErrJoinTokenUsed), errors.Is(err, nodes.ErrJoinTokenExpired):
		return &problemError{status: http.StatusForbidden, title: "Forbidden", detail: publicCause(err, nodes.ErrJoinTokenUsed, nodes.ErrJoinTokenExpired), field: "join_token"}
	case errors.Is(err, nodes.ErrInvalidJoinToken):
		return &problemError{status: http.StatusUnauthorized, title: "Unauthorized", detail: nodes.ErrInvalidJoinToken.Error(), field: "join_token"}
	case errors.Is(err, nodes.ErrEvicted):
		return &problemError{status: http.StatusForbidden, title: "Forbidden", detail: "this agent was evicted"}
	case errors.Is(err, nodes.ErrUnauthenticated):
		return &problemError{status: http.StatusUnauthorized, title: "Unauthorized",
			detail: "a valid, unrevoked agent X509-SVID is required as the TLS client certificate"}
	case errors.Is(err, nodes.ErrAgentNotFound):
		return &problemError{status: http.StatusNotFound, title: "Not Found", detail: "no agent with that ID"}
	case errors.As(err, &inactive):
		return &problemError{status: http.StatusForbidden, title: "Forbidden", detail: inactive.Error()}
	case errors.Is(err, nodes.ErrEntryNotServed):
		return &problemError{status: http.StatusForbidden, title: "Forbidden", detail: nodes.ErrEntryNotServed.Error(), field: "entry_id"}
	case errors.Is(err, nodes.ErrRevokedRecently):
		return &problemError{status: http.StatusServiceUnavailable, title: "Service Unavailable", detail: nodes.ErrRevokedRecently.Error()}
	case errors.Is(err, nodes.ErrInvalidRequest):
		return &problemError{status: http.StatusBadRequest, title: "Bad Request", detail: err.Error()}
	case errors.Is(err, synchub.ErrClosed):
		return &problemError{status: http.StatusServiceUnavailable, title: "Service Unavailable", detail: "the server is shutting down"}
	case errors.Is(err, registry.ErrConflict):
		return &problemError{status: http.StatusConflict, title: "Conflict", detail: "the entry kept changing; try again"}
	}
	return mintError(err)
}

// publicCause returns the text of the first of known that err wraps.
func publicCause(err error, known ...error) string {
	for _, k := range known {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return "refused"
}

// itemMessage is the public text of a refused item of an SVID batch.
func itemMessage(err error) string {
	var pe *problemError
	if errors.As(nodesError(err), &pe) {
		return pe.detail
	}
	return "refused"
}

// Nodes returns the server's node attestation service (join tokens,
// agents).
func (s *Server) Nodes() *nodes.Service { return s.agents.nodes }
