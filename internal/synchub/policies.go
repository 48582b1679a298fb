package synchub

import (
	"context"
	"errors"
	"fmt"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/store"
)

// PolicySource is where the hub reads the policy set: its latest revision
// and the documents of a revision (0: the latest). *store.Store implements
// it.
type PolicySource interface {
	PolicySetRevision(ctx context.Context) (int64, error)
	GetPolicySet(ctx context.Context, revision int64) (store.PolicySet, error)
}

// readPolicies returns the latest policy set for the wire, or nil when
// there is no source or no revision yet.
func (h *Hub) readPolicies(ctx context.Context) (*agentproto.PolicySet, error) {
	if h.cfg.Policies == nil {
		return nil, nil
	}
	ps, err := h.cfg.Policies.GetPolicySet(ctx, 0)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sync: read policies: %w", err)
	}
	return &agentproto.PolicySet{Revision: ps.Revision, Documents: ps.Documents}, nil
}

// collectPolicies sets c.policies when the policy set changed since the
// last round.
func (h *Hub) collectPolicies(ctx context.Context, c *changes) error {
	if h.cfg.Policies == nil {
		return nil
	}
	rev, err := h.cfg.Policies.PolicySetRevision(ctx)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if rev == 0 || h.policies != nil && rev == h.policies.Revision {
		return nil
	}
	c.policies, err = h.readPolicies(ctx)
	return err
}
