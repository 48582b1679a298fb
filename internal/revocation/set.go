package revocation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Store persists the set. PutRevocation writes or widens one entry and
// assigns its revision; ListRevocations pages through entries written
// after a revision, in revision order; DeleteExpiredRevocations drops the
// entries that expired before a time. Package revocationstore adapts
// Kith's store to it.
type Store interface {
	PutRevocation(ctx context.Context, r *Record) error
	ListRevocations(ctx context.Context, f Filter) ([]Record, error)
	DeleteExpiredRevocations(ctx context.Context, before time.Time) (int64, error)
}

// Record is an entry as a [Store] keeps it. Kind is the wire name of the
// kind, so that entries of a kind this version does not know survive in
// the store (and [Set.Sync] skips them).
type Record struct {
	Kind      string
	Value     string
	RevokedAt time.Time
	ExpiresAt time.Time // zero: never
	Reason    string
	// Revision is assigned by the store on each write.
	Revision int64
}

// Filter narrows [Store.ListRevocations].
type Filter struct {
	// After selects entries written at a revision greater than After; 0
	// for all.
	After int64
	// Limit caps the page size.
	Limit int
}

// DefaultSyncInterval is how often [Set.Run] reads what other replicas
// wrote, when Config.SyncInterval is zero.
const DefaultSyncInterval = 2 * time.Second

// Config configures a [Set].
type Config struct {
	// Store persists the set. Nil keeps it in memory only, for a consumer
	// that is fed with [Set.Apply] (an agent or a proxy).
	Store Store
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// SyncInterval is how often Run reads entries written by other
	// replicas and drops expired ones; zero means [DefaultSyncInterval].
	SyncInterval time.Duration
}

// item is the in-memory form of an entry, kept small for the hot path.
type item struct {
	revokedAt int64 // Unix seconds
	expiresAt int64 // Unix seconds; 0 for never
	reason    string
	revision  int64
}

// Set is the revocation set, safe for concurrent use. Lookups take a read
// lock and do not allocate; writes go to the store first, then to memory.
type Set struct {
	store  Store
	clock  func() time.Time
	logger *slog.Logger
	every  time.Duration

	syncMu sync.Mutex // serialises Sync

	mu       sync.RWMutex
	items    [numKinds]map[string]item
	revision int64 // highest revision seen
	// synced is the revision up to which Sync read the store. It trails
	// revision after a Revoke, whose write may have overtaken writes of
	// other replicas or transactions that Sync has not read yet.
	synced int64
}

// New returns a Set holding every entry in cfg.Store (none without a
// store). It returns an error if the store cannot be read.
func New(ctx context.Context, cfg Config) (*Set, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	s := &Set{store: cfg.Store, clock: cfg.Clock, logger: cfg.Logger, every: cfg.SyncInterval}
	for k := range s.items {
		s.items[k] = make(map[string]item)
	}
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Revoked reports whether the credential of kind k and value v, issued at
// issuedAt, is revoked. Times are compared in whole seconds, as JWTs carry
// them, and a credential issued in the second of the revocation counts as
// revoked. It takes a read lock and does not allocate.
func (s *Set) Revoked(k Kind, v string, issuedAt time.Time) bool {
	if k == 0 || k >= numKinds {
		return false
	}
	s.mu.RLock()
	it, ok := s.items[k][v]
	s.mu.RUnlock()
	return ok && issuedAt.Unix() <= it.revokedAt
}

// IsRevoked is [Set.Revoked] with the kind given by its wire name ("jti",
// "client_id", "x509_serial", "spiffe_id"); an unknown name is never
// revoked. It lets a Set serve as the revocation list of the public SDK's
// verifier. It does not allocate.
func (s *Set) IsRevoked(kind, value string, issuedAt time.Time) bool {
	return s.Revoked(kindOf(kind), value, issuedAt)
}

// Revoke writes e to the store and applies it, and returns it as stored
// (widened by an earlier revocation of the same credential, with its
// revision). A zero RevokedAt means now. It returns an error wrapping
// [ErrInvalid] for a bad entry, or the store's error.
func (s *Set) Revoke(ctx context.Context, e Entry) (Entry, error) {
	if e.RevokedAt.IsZero() {
		e.RevokedAt = s.clock()
	}
	if err := e.validate(); err != nil {
		return Entry{}, err
	}
	if s.store == nil {
		return Entry{}, errors.New("revocation: this set has no store; use Apply")
	}
	rec := Record{Kind: e.Kind.String(), Value: e.Value, RevokedAt: e.RevokedAt,
		ExpiresAt: e.ExpiresAt, Reason: e.Reason}
	if err := s.store.PutRevocation(ctx, &rec); err != nil {
		return Entry{}, fmt.Errorf("revocation: revoke %s: %w", e.Kind, err)
	}
	e.RevokedAt, e.ExpiresAt, e.Reason, e.Revision = rec.RevokedAt, rec.ExpiresAt, rec.Reason, rec.Revision
	s.Apply(e)
	return e, nil
}

// Apply puts entries into memory without writing them anywhere: an entry
// replaces the one of the same kind and value if its revision is higher.
// Invalid and expired entries are skipped. It is how a consumer applies what
// [Set.Since] returned on the server.
func (s *Set) Apply(entries ...Entry) {
	now := s.clock().Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		if e.validate() != nil {
			continue
		}
		s.revision = max(s.revision, e.Revision)
		it := item{revokedAt: e.RevokedAt.Unix(), reason: e.Reason, revision: e.Revision}
		if !e.ExpiresAt.IsZero() {
			if it.expiresAt = e.ExpiresAt.Unix(); it.expiresAt < now {
				continue // covers only expired credentials
			}
		}
		m := s.items[e.Kind]
		if old, ok := m[e.Value]; !ok || old.revision <= e.Revision {
			m[e.Value] = it
		}
	}
}

// Since returns the entries written at a revision after rev, in revision
// order, and the highest revision the set has seen. Pass that revision to
// the next call to receive only what changed. It scans the whole set and is
// meant for a periodic sync, not for the request path.
func (s *Set) Since(rev int64) ([]Entry, int64) {
	s.mu.RLock()
	var out []Entry
	for k, m := range s.items {
		for v, it := range m {
			if it.revision > rev {
				out = append(out, it.entry(Kind(k), v))
			}
		}
	}
	cur := s.revision
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Revision, b.Revision) })
	return out, cur
}

// Revision returns the highest revision the set has seen.
func (s *Set) Revision() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.revision
}

// Len returns the number of entries held.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, m := range s.items {
		n += len(m)
	}
	return n
}

func (it item) entry(k Kind, v string) Entry {
	e := Entry{Kind: k, Value: v, RevokedAt: time.Unix(it.revokedAt, 0).UTC(), Reason: it.reason, Revision: it.revision}
	if it.expiresAt != 0 {
		e.ExpiresAt = time.Unix(it.expiresAt, 0).UTC()
	}
	return e
}

// storeFilter returns the store filter for a page after rev.
func storeFilter(rev int64) Filter {
	return Filter{After: rev, Limit: 1000}
}
