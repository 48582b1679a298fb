// Package revocationstore keeps a revocation set in Kith's store: it
// adapts *store.Store to [revocation.Store], converting between the set's
// records and the store's rows. It holds no logic of its own; it is apart
// from package revocation so that the set's consumers (agents, proxies)
// do not link the store and its SQL drivers.
package revocationstore

import (
	"context"
	"time"

	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/store"
)

// Store is a [revocation.Store] backed by a *store.Store.
type Store struct {
	st *store.Store
}

// New returns a Store that keeps entries in st.
func New(st *store.Store) *Store { return &Store{st: st} }

// PutRevocation writes or widens r (see store.Store.PutRevocation) and
// updates r with the stored values and revision. It returns the store's
// error.
func (s *Store) PutRevocation(ctx context.Context, r *revocation.Record) error {
	row := store.Revocation(*r)
	if err := s.st.PutRevocation(ctx, &row); err != nil {
		return err
	}
	*r = revocation.Record(row)
	return nil
}

// ListRevocations returns a page of entries written after f.After, in
// revision order. It returns the store's error.
func (s *Store) ListRevocations(ctx context.Context, f revocation.Filter) ([]revocation.Record, error) {
	rows, err := s.st.ListRevocations(ctx, store.RevocationFilter(f))
	if err != nil {
		return nil, err
	}
	out := make([]revocation.Record, len(rows))
	for i, r := range rows {
		out[i] = revocation.Record(r)
	}
	return out, nil
}

// DeleteExpiredRevocations deletes the entries that expired before before
// and returns how many. It returns the store's error.
func (s *Store) DeleteExpiredRevocations(ctx context.Context, before time.Time) (int64, error) {
	return s.st.DeleteExpiredRevocations(ctx, before)
}
