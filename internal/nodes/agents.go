package nodes

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/store"
)

// Get returns the agent with the given ID, evicted or not. It returns
// [ErrAgentNotFound] or the store's error.
func (s *Service) Get(ctx context.Context, id string) (Agent, error) {
	rec, err := s.cfg.Store.GetAgent(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Agent{}, ErrAgentNotFound
	}
	if err != nil {
		return Agent{}, fmt.Errorf("nodes: get agent: %w", err)
	}
	return agentFromRecord(rec)
}

// AgentBySPIFFEID returns the agent whose SPIFFE ID is id, evicted or not.
// It returns [ErrAgentNotFound] if id is not an agent ID of the trust
// domain or no agent has it, or the store's error.
func (s *Service) AgentBySPIFFEID(ctx context.Context, id spiffeid.ID) (Agent, error) {
	agentID, ok := agentIDOf(s.cfg.TrustDomain, id)
	if !ok {
		return Agent{}, ErrAgentNotFound
	}
	return s.Get(ctx, agentID)
}

// List returns one page of agents in ID order, those after the ID after,
// at most limit (100 when zero, at most 1000), and the cursor of the next
// page, empty when there is none. It returns the store's error.
func (s *Service) List(ctx context.Context, after string, limit int) ([]Agent, string, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	recs, err := s.cfg.Store.ListAgents(ctx, store.AgentFilter{After: after, Limit: limit})
	if err != nil {
		return nil, "", fmt.Errorf("nodes: list agents: %w", err)
	}
	out := make([]Agent, 0, len(recs))
	for _, r := range recs {
		a, err := agentFromRecord(r)
		if err != nil {
			return nil, "", err
		}
		out = append(out, a)
	}
	next := ""
	if len(out) == limit {
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// Eviction is the result of [Service.Evict].
type Eviction struct {
	Agent Agent
	// RevokedSVIDs counts the unexpired workload X509-SVIDs issued through
	// the agent whose serials were revoked.
	RevokedSVIDs int
}

// Evict withdraws an agent's identity and its workloads': it revokes the
// agent's SPIFFE ID for every SVID issued until now and the serial of
// every unexpired X509-SVID issued through it, then marks the agent
// evicted (its requests are refused from then on) in one transaction with
// the "agent.evicted" event, and signals the change so that it reaches
// every agent at once.
//
// The revocations come first and only widen, so a call that failed half
// way (the agent then stays marked live, its identity already revoked)
// can be repeated, as can evicting an evicted agent. It returns
// [ErrAgentNotFound], or the store's, revocation set's or ledger's error.
func (s *Service) Evict(ctx context.Context, actor audit.Actor, id string) (*Eviction, error) {
	now := s.now()
	rec, err := s.cfg.Store.GetAgent(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrAgentNotFound
	case err != nil:
		return nil, fmt.Errorf("nodes: evict %s: %w", id, err)
	}
	agent, err := agentFromRecord(rec)
	if err != nil {
		return nil, err
	}
	defer s.cfg.Changed()
	if _, err := s.cfg.Revocations.Revoke(ctx, revocation.Entry{
		Kind: revocation.KindSPIFFEID, Value: agent.SPIFFEID.String(), RevokedAt: now,
		ExpiresAt: now.Add(s.cfg.MaxSVIDTTL), Reason: "agent evicted",
	}); err != nil {
		return nil, fmt.Errorf("nodes: evict %s: %w", id, err)
	}
	n, err := s.revokeIssued(ctx, agent.ID, now)
	if err != nil {
		return nil, fmt.Errorf("nodes: evict %s: %w", id, err)
	}
	err = ledger.WriteAudited(ctx, s.cfg.Store, s.cfg.Auditor, func(tx *store.Tx) (audit.Event, error) {
		switch r, err := tx.EvictAgent(ctx, id, now); {
		case err == nil:
			rec = r
		case errors.Is(err, store.ErrConflict):
			// Evicted before: the revocations were repeated.
		default:
			return audit.Event{}, err
		}
		return audit.Event{
			Type: audit.TypeAgentEvicted, Actor: actor, Target: agent.ID, Action: "evict", Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"spiffe_id": agent.SPIFFEID.String(), "revoked_svids": strconv.Itoa(n)},
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("nodes: evict %s: %w", id, err)
	}
	if agent, err = agentFromRecord(rec); err != nil {
		return nil, err
	}
	s.cfg.Logger.InfoContext(ctx, "agent evicted", "agent_id", agent.ID, "revoked_svids", n)
	return &Eviction{Agent: agent, RevokedSVIDs: n}, nil
}

// revokeIssued revokes every X509-SVID issued through agent that expires
// after now, and returns how many.
func (s *Service) revokeIssued(ctx context.Context, agentID string, now time.Time) (int, error) {
	n := 0
	after := ""
	for {
		page, err := s.cfg.Store.ListAgentSVIDs(ctx, store.AgentSVIDFilter{AgentID: agentID, ExpiresAfter: now, After: after, Limit: 1000})
		if err != nil {
			return n, err
		}
		if len(page) == 0 {
			return n, nil
		}
		for _, sv := range page {
			if _, err := s.cfg.Revocations.Revoke(ctx, revocation.Entry{
				Kind: revocation.KindX509Serial, Value: sv.Serial, RevokedAt: now, ExpiresAt: sv.ExpiresAt,
				Reason: "agent evicted",
			}); err != nil {
				return n, err
			}
			n++
		}
		after = page[len(page)-1].Serial
	}
}
