package federation

import (
	"context"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Reload brings the relationships held in memory in line with the store,
// where other replicas write too: relationships added elsewhere are
// loaded, those removed elsewhere are dropped, and a stored bundle with a
// higher sequence number than the one held replaces it. An entry being
// refreshed is left alone; its refresh reconciles it with the store. Run
// calls Reload every minute; a server that learns of changes sooner (from
// a database notification) may call it too.
//
// Errors: a store error if the relationships cannot be listed. Stored
// records that cannot be read back are logged and skipped.
func (m *Manager) Reload(ctx context.Context) error {
	recs, err := m.store.ListFederations(ctx)
	if err != nil {
		return fmt.Errorf("federation: reload: %w", err)
	}
	// Add and Remove change the store and memory together under addMu.
	m.addMu.Lock()
	defer m.addMu.Unlock()

	stored := make(map[spiffeid.TrustDomain]bool, len(recs))
	for _, rec := range recs {
		td, err := spiffeid.TrustDomainFromString(rec.TrustDomain)
		if err != nil {
			m.logger.Error("federation: skipping stored relationship", "trust_domain", rec.TrustDomain, "error", err)
			continue
		}
		stored[td] = true
		loaded, err := m.entryFromRecord(rec)
		if err != nil {
			m.logger.Error("federation: skipping stored relationship", "trust_domain", rec.TrustDomain, "error", err)
			continue
		}
		m.adopt(td, loaded)
	}

	m.mu.RLock()
	var gone []*entry
	for td, e := range m.entries {
		if !stored[td] {
			gone = append(gone, e)
		}
	}
	m.mu.RUnlock()
	for _, e := range gone {
		if e.op.TryLock() {
			m.drop(e)
			e.op.Unlock()
		}
	}
	return nil
}

// adopt installs loaded as the entry for td if none is held, or takes its
// bundle if it is newer than the one held and the entry is not busy.
func (m *Manager) adopt(td spiffeid.TrustDomain, loaded *entry) {
	m.mu.Lock()
	cur, ok := m.entries[td]
	if !ok {
		m.entries[td] = loaded
		m.mu.Unlock()
		m.logger.Info("federation: relationship added by another replica", "trust_domain", td.String())
		m.poke()
		return
	}
	m.mu.Unlock()
	if !cur.op.TryLock() {
		return
	}
	defer cur.op.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if bundleSequence(loaded.bundle) > bundleSequence(cur.bundle) {
		cur.state = loaded.state
	}
}
