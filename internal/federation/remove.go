package federation

import (
	"context"
	"errors"
	"fmt"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Remove ends the federation with td on behalf of actor: it deletes the
// relationship and its bundle from the store and from memory, and records a
// "federation.removed" event. A refresh of td in progress is waited for.
//
// Errors: [ErrNotFound] if td is neither held nor stored; otherwise a store
// or ledger error, in which case the relationship is kept (the store record
// is put back if the audit fails).
func (m *Manager) Remove(ctx context.Context, actor audit.Actor, td spiffeid.TrustDomain) error {
	// addMu keeps a concurrent Add of td from landing half-way through.
	m.addMu.Lock()
	defer m.addMu.Unlock()
	e := m.lookup(td)
	if e != nil {
		e.op.Lock()
		defer e.op.Unlock()
	}

	rec, err := m.store.GetFederation(ctx, td.String())
	stored := err == nil
	if err != nil && !isStoreNotFound(err) {
		return fmt.Errorf("federation: remove %q: %w", td, err)
	}
	if e == nil && !stored {
		return fmt.Errorf("%w: %q", ErrNotFound, td)
	}

	var rel Relationship
	if e != nil {
		m.mu.RLock()
		rel = e.rel
		m.mu.RUnlock()
	} else {
		// Stored by another replica: describe it as stored.
		rel = Relationship{TrustDomain: td, BundleEndpointURL: rec.BundleEndpointURL, Profile: Profile(rec.Profile)}
	}

	if stored {
		if err := m.store.DeleteFederation(ctx, td.String()); err != nil && !isStoreNotFound(err) {
			return fmt.Errorf("federation: remove %q: %w", td, err)
		}
	}
	if err := m.audit(ctx, audit.TypeFederationRemoved, "delete", actor, rel, audit.OutcomeSuccess, nil, nil, nil); err != nil {
		if stored {
			if perr := m.store.PutFederation(ctx, rec); perr != nil {
				m.logger.Error("federation: cannot undo remove after audit failure",
					"trust_domain", td.String(), "error", perr)
				err = errors.Join(err, perr)
			}
		}
		return err
	}

	m.mu.Lock()
	if e != nil {
		e.removed = true
	}
	delete(m.entries, td)
	m.mu.Unlock()
	m.poke()
	m.logger.Info("federation: removed", "trust_domain", td.String())
	return nil
}
