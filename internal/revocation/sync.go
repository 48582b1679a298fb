package revocation

import (
	"context"
	"fmt"
	"time"
)

// pruneStoreEvery is how often Run deletes expired entries from the store.
const pruneStoreEvery = time.Minute

// Sync reads the entries written to the store since the highest revision
// the set has seen (by any replica) and applies them, then drops expired
// entries from memory. Without a store it only drops expired entries. It
// returns the store's error; the set then keeps what it holds.
func (s *Set) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.store != nil {
		s.mu.RLock()
		after := s.synced
		s.mu.RUnlock()
		for {
			recs, err := s.store.ListRevocations(ctx, storeFilter(after))
			if err != nil {
				return fmt.Errorf("revocation: sync: %w", err)
			}
			if len(recs) == 0 {
				break
			}
			entries := make([]Entry, 0, len(recs))
			for _, r := range recs {
				k := kindOf(r.Kind)
				if k == 0 {
					s.logger.WarnContext(ctx, "revocation: skipping stored entry of unknown kind", "kind", r.Kind, "revision", r.Revision)
					after = max(after, r.Revision)
					continue
				}
				entries = append(entries, Entry{Kind: k, Value: r.Value, RevokedAt: r.RevokedAt,
					ExpiresAt: r.ExpiresAt, Reason: r.Reason, Revision: r.Revision})
				after = max(after, r.Revision)
			}
			s.Apply(entries...)
			s.mu.Lock()
			s.revision = max(s.revision, after)
			s.synced = max(s.synced, after)
			s.mu.Unlock()
		}
	}
	s.prune()
	return nil
}

// prune drops entries whose ExpiresAt has passed.
func (s *Set) prune() {
	now := s.clock().Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.items {
		for v, it := range m {
			if it.expiresAt != 0 && it.expiresAt < now {
				delete(m, v)
			}
		}
	}
}

// Run keeps the set in step with the store until ctx is done: every
// SyncInterval it applies what other replicas wrote and drops expired
// entries; every minute it also deletes expired entries from the store.
// Failures are logged and retried at the next tick. It returns nil when
// ctx is done.
func (s *Set) Run(ctx context.Context) error {
	t := time.NewTicker(s.every)
	defer t.Stop()
	lastPrune := s.clock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.logger.ErrorContext(ctx, "revocation sync failed", "error", err)
		}
		if now := s.clock(); s.store != nil && now.Sub(lastPrune) >= pruneStoreEvery {
			lastPrune = now
			if n, err := s.store.DeleteExpiredRevocations(ctx, now); err != nil && ctx.Err() == nil {
				s.logger.ErrorContext(ctx, "revocation: delete expired entries", "error", err)
			} else if n > 0 {
				s.logger.DebugContext(ctx, "revocation: deleted expired entries", "count", n)
			}
		}
	}
}
