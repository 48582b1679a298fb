package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/trust"
	"github.com/kith-dev/kith/internal/trusthost"
)

// TrustConfig configures the behavioural-trust engine the server hosts
// (package trusthost). The zero value runs it with the defaults.
type TrustConfig struct {
	// Disabled runs no engine: agents get no trust table, and proxies
	// give every caller the documented starting state.
	Disabled bool
	// Tuning tunes the detectors and the trust state (trust.DefaultTuning
	// for zero fields).
	Tuning trust.Tuning
	// TickInterval, PollInterval, SnapshotInterval and LeaseTTL are
	// trusthost.Config's; its defaults when zero.
	TickInterval, PollInterval, SnapshotInterval, LeaseTTL time.Duration
	// OnChange, if set, is told of every change of a caller's trust (see
	// trusthost.Config.OnChange): the hook of the remediation ladder.
	OnChange func(changes []trust.Change)
}

// trustPart is the engine host and the policy it asks about new routes.
type trustPart struct {
	host   *trusthost.Host
	policy *policy.Engine // the current policy set, for RouteAllowed
}

// buildTrust builds the trust engine's host. It must run after the
// store, the ledger and the metrics, and before the agent plane, whose
// hub pushes its table.
func (s *Server) buildTrust() error {
	if s.cfg.Trust.Disabled {
		return nil
	}
	pe, err := policy.New(policy.Config{Clock: s.clock})
	if err != nil {
		return err
	}
	p := &trustPart{policy: pe}
	tc := s.cfg.Trust
	p.host, err = trusthost.New(trusthost.Config{
		Store: s.store, Ledger: s.ledger,
		Start:        func(context.Context) (int64, error) { return int64(s.ledger.Stats().TreeSize) - 1, nil },
		RouteAllowed: p.routeAllowed, Tuning: tc.Tuning,
		OnChange: func(cs []trust.Change) {
			s.trustChanged(cs)
			if tc.OnChange != nil {
				tc.OnChange(cs)
			}
		},
		Notify: func() {
			if s.agents != nil {
				s.agents.hub.Notify()
			}
		},
		TickInterval: tc.TickInterval, PollInterval: tc.PollInterval, SnapshotInterval: tc.SnapshotInterval, LeaseTTL: tc.LeaseTTL,
		Clock: s.clock, Logger: s.logger,
	})
	if err != nil {
		return err
	}
	s.trust = p
	h := p.host
	gauge := func(name, help string, f func(st trusthost.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(h.Stats()) })
	}
	counter := func(name, help string, f func(st trusthost.Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(h.Stats()) })
	}
	s.metrics.reg.MustRegister(
		gauge("kith_trust_callers", "Caller identities the trust engine tracks.", func(st trusthost.Stats) float64 { return float64(st.Callers) }),
		gauge("kith_trust_leader", "1 when this replica leads the trust engine (writes its findings and snapshots).", func(st trusthost.Stats) float64 {
			if st.Leader {
				return 1
			}
			return 0
		}),
		gauge("kith_trust_behind_events", "Ledger events the trust engine has yet to read after its last read (0: caught up).", func(st trusthost.Stats) float64 { return float64(st.Behind) }),
		counter("kith_trust_calls_total", "Calls the trust engine observed.", func(st trusthost.Stats) float64 { return float64(st.Calls) }),
		counter("kith_trust_signals_total", "Signals the trust engine raised.", func(st trusthost.Stats) float64 { return float64(st.Signals) }),
		counter("kith_trust_changes_total", "Changes of callers' trust states.", func(st trusthost.Stats) float64 { return float64(st.Changes) }),
		counter("kith_trust_snapshots_total", "Snapshots of the trust engine this replica saved.", func(st trusthost.Stats) float64 { return float64(st.Snapshots) }),
	)
	return nil
}

// routeAllowed answers the engine's question for a route or target new to
// a caller: does a policy let it call there at all? It decides with the
// highest trust, so that trust conditions do not count. A target no
// policy protects is Unknown.
func (p *trustPart) routeAllowed(caller, target, method, route string) trust.Allowance {
	in := policy.Input{Target: target, Caller: policy.Caller{SPIFFEID: caller},
		Request: policy.Request{Method: method, Path: route}, Trust: policy.Trust{Score: trust.MaxScore, Level: "high"}}
	d := p.policy.Decide(&in)
	switch {
	case !d.Protected:
		return trust.Unknown
	case d.Action == policy.ActionDeny:
		return trust.Denied
	}
	return trust.Allowed
}

// runTrustPolicies keeps the trust part's policy engine at the policy
// set's current revision, until ctx is done.
func (s *Server) runTrustPolicies(ctx context.Context) error {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		if cur, err := s.policies.Current(ctx); err == nil && cur.Revision != s.trust.policy.Revision() {
			if err := s.trust.policy.Load(cur.Revision, cur.Documents); err != nil {
				s.logger.WarnContext(ctx, "trust: policy set for new routes", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// TrustHost returns the host of the behavioural-trust engine, nil when
// Config.Trust.Disabled: the token service and the remediation ladder
// read callers' trust from it (it is an enforce.TrustSource).
func (s *Server) TrustHost() *trusthost.Host {
	if s.trust == nil {
		return nil
	}
	return s.trust.host
}
