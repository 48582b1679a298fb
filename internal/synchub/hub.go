package synchub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/store"
)

// EntrySource is where the hub reads registry changes: the store-wide
// revision, the entries written after a revision and the tombstones of
// entries that left a parent. *store.Store implements it.
type EntrySource interface {
	Revision(ctx context.Context) (int64, error)
	ListEntryChanges(ctx context.Context, f store.ChangeFilter) ([]store.Entry, error)
	ListEntryTombstones(ctx context.Context, f store.ChangeFilter) ([]store.EntryTombstone, error)
}

// TombstoneKeeper says how far back deletions can be replayed and prunes
// old tombstones. *store.Store implements it.
type TombstoneKeeper interface {
	EntryTombstoneHorizon(ctx context.Context) (int64, error)
	PruneEntryTombstones(ctx context.Context, now, before time.Time) (int64, error)
}

// RevocationSource is where the hub reads the revocation set's changes.
// *store.Store implements it.
type RevocationSource interface {
	RevocationRevision(ctx context.Context) (int64, error)
	ListRevocations(ctx context.Context, f store.RevocationFilter) ([]store.Revocation, error)
}

// Signer signs revocation batches; *ca.CA implements it.
type Signer interface {
	SignDocument(typ string, payload []byte) (string, error)
}

// BundleSource is the trust domain's own bundle and a channel closed when
// it may have changed; *ca.CA implements it.
type BundleSource interface {
	Bundle() *spiffebundle.Bundle
	Changed() <-chan struct{}
}

// FederatedSource holds the bundles of federated trust domains;
// *federation.Manager implements it.
type FederatedSource interface {
	Bundles() []*spiffebundle.Bundle
}

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultPollInterval       = time.Second
	DefaultQueueSize          = 256
	DefaultTombstoneRetention = 24 * time.Hour
	// DefaultWriteTimeout bounds one write to an agent's stream.
	DefaultWriteTimeout = 30 * time.Second
	// pruneEvery is how often Run prunes tombstones.
	pruneEvery = time.Minute
)

// Config configures a [Hub].
type Config struct {
	// Entries, Tombstones and Revocations are where changes are read.
	// Required.
	Entries     EntrySource
	Tombstones  TombstoneKeeper
	Revocations RevocationSource
	// Signer signs revocation batches. Required.
	Signer Signer
	// Bundle is the trust domain's own bundle. Required.
	Bundle BundleSource
	// Federated holds federated bundles; nil means none.
	Federated FederatedSource
	// Policies is the policy set pushed to proxies; nil means none.
	Policies PolicySource
	// TokenKeys is the token service's key set pushed to proxies; nil
	// means none. It is read from memory at every poll, so it may be
	// bound late (the server builds the token service after the hub).
	TokenKeys TokenKeySource
	// Trust is the behavioural-trust engine's table pushed to proxies;
	// nil means none. Like TokenKeys it is read from memory at every
	// round.
	Trust TrustSource
	// PollInterval is how often the hub looks for changes made elsewhere
	// (other replicas, federation refreshes) besides [Hub.Notify]; zero
	// means [DefaultPollInterval].
	PollInterval time.Duration
	// HeartbeatInterval is the longest a stream stays silent; zero means
	// [agentproto.HeartbeatInterval].
	HeartbeatInterval time.Duration
	// QueueSize is how many messages may wait for one agent; an agent that
	// falls further behind is disconnected. Zero means [DefaultQueueSize].
	QueueSize int
	// TombstoneRetention is how long deletions can be replayed to a
	// reconnecting agent; an older agent gets the full state. Zero means
	// [DefaultTombstoneRetention].
	TombstoneRetention time.Duration
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
}

// ErrClosed ends every stream when [Hub.Run] returns, and refuses new
// ones: the server is shutting down.
var ErrClosed = errors.New("sync: hub stopped")

// ErrSlowConsumer ends the stream of an agent whose queue of pending
// messages overflowed: it reconnects and resumes from its revision, rather
// than make the hub wait for it.
var ErrSlowConsumer = errors.New("sync: agent fell behind; stream closed")

// Hub fans registry, bundle, revocation, policy, token-key and trust changes out
// to the connected agents' streams. Changes are found by [Hub.Run]; each is
// read once from the store and sent only to the streams it concerns: an
// entry's change to the agents named by its parent (all agents for an
// entry without one), bundles, revocations, policy sets, token keys and
// trust states to all. A Hub is safe for concurrent use.
//
// A stream starts with a catch-up read from the store as it is then, while
// later changes reach it through a bounded queue. An entry changed while a
// stream subscribes may therefore arrive twice, once possibly older than
// the catch-up's copy; the next message brings it up to date, and an agent
// that keeps the entry with the higher Revision never goes back.
type Hub struct {
	cfg  Config
	wake chan struct{}
	// caChanged is closed on the CA's next bundle change. It is taken in
	// New, before the bundle is first read, so that no change between New
	// and Run goes unseen.
	caChanged <-chan struct{}

	mu        sync.Mutex
	rev       int64 // registry revision fanned out
	revocRev  int64 // revocation revision fanned out
	bundle    json.RawMessage
	federated map[string]json.RawMessage
	policies  *agentproto.PolicySet // latest fanned out; nil for none
	tokenKeys tokenKeys             // latest fanned out
	trustRev  int64                 // trust revision fanned out
	byAgent   map[string]map[*subscriber]struct{}
	subs      map[*subscriber]struct{}
	closed    bool // Run returned
	// statsChanged is closed (and replaced) whenever what Stats reports
	// may have changed; see StatsChanged.
	statsChanged chan struct{}

	sent, dropped atomic.Uint64
}

// New returns a Hub that starts at the store's current revisions: changes
// made before are delivered to agents only by their catch-up on connect.
// It returns an error for a missing Config field or if the store or the
// bundle cannot be read.
func New(ctx context.Context, cfg Config) (*Hub, error) {
	var errs []error
	for _, f := range []struct {
		name string
		nil  bool
	}{
		{"Entries", cfg.Entries == nil}, {"Tombstones", cfg.Tombstones == nil}, {"Revocations", cfg.Revocations == nil},
		{"Signer", cfg.Signer == nil}, {"Bundle", cfg.Bundle == nil},
	} {
		if f.nil {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sync: config: %w", err)
	}
	setDefault(&cfg.PollInterval, DefaultPollInterval)
	setDefault(&cfg.HeartbeatInterval, agentproto.HeartbeatInterval)
	setDefault(&cfg.TombstoneRetention, DefaultTombstoneRetention)
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{cfg: cfg, wake: make(chan struct{}, 1), statsChanged: make(chan struct{}),
		byAgent: map[string]map[*subscriber]struct{}{}, subs: map[*subscriber]struct{}{}}
	var err error
	if h.rev, err = cfg.Entries.Revision(ctx); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	if h.revocRev, err = cfg.Revocations.RevocationRevision(ctx); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	h.caChanged = cfg.Bundle.Changed()
	if h.bundle, err = marshalBundle(cfg.Bundle.Bundle()); err != nil {
		return nil, err
	}
	if h.federated, err = h.readFederated(); err != nil {
		return nil, err
	}
	if h.policies, err = h.readPolicies(ctx); err != nil {
		return nil, err
	}
	h.tokenKeys, _ = h.readTokenKeys(tokenKeys{})
	if cfg.Trust != nil {
		_, h.trustRev = cfg.Trust.TrustTable()
	}
	return h, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Notify tells the hub that something changed (an entry, a revocation), so
// that it looks at once rather than at its next poll. It never blocks;
// notifications that arrive while the hub is busy are merged.
func (h *Hub) Notify() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Stats are counters of a Hub, for metrics and tests.
type Stats struct {
	// Streams is the number of connected streams.
	Streams int
	// Sent counts the messages queued to streams, heartbeats and
	// catch-ups excluded.
	Sent uint64
	// Dropped counts streams closed because they fell behind.
	Dropped uint64
	// Revision and RevocationRevision are the registry and revocation-set
	// revisions fanned out so far.
	Revision, RevocationRevision int64
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Streams: len(h.subs), Sent: h.sent.Load(), Dropped: h.dropped.Load(),
		Revision: h.rev, RevocationRevision: h.revocRev}
}

// StatsChanged returns a channel closed at the next change of what
// [Hub.Stats] reports: a stream connecting or ending, or a round of
// changes fanned out. A caller waiting for a condition on Stats takes the
// channel, reads Stats, and waits on the channel only if the condition
// does not hold yet.
func (h *Hub) StatsChanged() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.statsChanged
}

// noteStatsLocked wakes the callers of StatsChanged. h.mu must be held.
func (h *Hub) noteStatsLocked() {
	close(h.statsChanged)
	h.statsChanged = make(chan struct{})
}

// marshalBundle returns b in SPIFFE bundle format.
func marshalBundle(b *spiffebundle.Bundle) (json.RawMessage, error) {
	if b == nil {
		return nil, errors.New("sync: no bundle")
	}
	raw, err := b.Marshal()
	if err != nil {
		return nil, fmt.Errorf("sync: marshal bundle of %s: %w", b.TrustDomain(), err)
	}
	return raw, nil
}

// readFederated returns the federated bundles by trust domain name.
func (h *Hub) readFederated() (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if h.cfg.Federated == nil {
		return out, nil
	}
	for _, b := range h.cfg.Federated.Bundles() {
		raw, err := marshalBundle(b)
		if err != nil {
			return nil, err
		}
		out[b.TrustDomain().Name()] = raw
	}
	return out, nil
}
