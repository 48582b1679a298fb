package trusthost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/trust"
)

// Store is what a Host keeps in the store and reads from it: its lease
// and snapshot as versioned blobs, and the ledger's events.
// *store.Store implements it.
type Store interface {
	GetBlob(ctx context.Context, name string) (data []byte, version int64, err error)
	PutBlob(ctx context.Context, name string, data []byte, expectVersion int64) (int64, error)
	ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error)
}

// Recorder writes events to the audit ledger; *ledger.Ledger implements
// it.
type Recorder interface {
	RecordAll(ctx context.Context, evs []audit.Event) (int64, error)
}

// Defaults of [Config].
const (
	DefaultTickInterval     = 5 * time.Second
	DefaultSnapshotInterval = time.Minute
	DefaultPollInterval     = 250 * time.Millisecond
	DefaultLeaseTTL         = 15 * time.Second
)

// Blob names in the store.
const (
	LeaseBlob    = "trust.lease"
	SnapshotBlob = "trust.snapshot"
)

// Config configures a [Host]. Zero values are documented defaults.
type Config struct {
	// Store keeps the lease and the snapshots and holds the ledger's
	// events. Required.
	Store Store
	// Ledger records the engine's signals and level changes. Required.
	Ledger Recorder
	// Start returns the index of the ledger's last event: where a Host
	// without a snapshot starts reading (the calls before are history it
	// does not learn from). Required.
	Start func(ctx context.Context) (int64, error)
	// RouteAllowed is the engine's trust.Config.RouteAllowed: policy's
	// answer for a route or target new to a caller. Nil leaves it to the
	// calls' own decisions.
	RouteAllowed func(caller, target, method, route string) trust.Allowance
	// Tuning is the engine's tuning (trust.DefaultTuning for zero fields).
	Tuning trust.Tuning
	// Notify is called, from the Host's goroutine, after the trust states
	// changed, so that the sync hub pushes them at once. Nil means none.
	Notify func()
	// OnChange, if set, is told of every change of a caller's trust, in
	// order, from the Host's goroutine, after its signals and level
	// changes are in the ledger (on every replica, leader or not; see
	// [Host.Leader]). It must not block for long: the remediation ladder
	// acts on it.
	OnChange func(changes []trust.Change)
	// TickInterval is how often the engine lets penalized callers recover
	// and expires context inputs; DefaultTickInterval when zero.
	TickInterval time.Duration
	// SnapshotInterval is how often the leader saves the engine's state;
	// DefaultSnapshotInterval when zero. It saves sooner (after
	// SnapshotInterval/6) once it wrote findings, and at shutdown.
	SnapshotInterval time.Duration
	// PollInterval is how often the Host reads the ledger without being
	// woken, for what other replicas recorded; DefaultPollInterval when
	// zero.
	PollInterval time.Duration
	// LeaseTTL is how long the leader's lease lasts unless renewed;
	// DefaultLeaseTTL when zero.
	LeaseTTL time.Duration
	// Replica names this replica in the lease; random when empty.
	Replica string
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
}

// Host runs the trust engine over the ledger. Create it with [New], run
// it with [Host.Run]; its readers are safe for concurrent use.
type Host struct {
	cfg    Config
	engine *trust.Engine
	wake   chan struct{}
	leader atomic.Bool

	// applied is the index of the last ledger event applied; progress is
	// closed (and replaced) when it grows.
	applied  atomic.Int64
	mu       sync.Mutex
	progress chan struct{}
	// The revision of trust changes and the changes since floor, for the
	// sync hub (see TrustChanges); and what the sink queued for the
	// ledger and OnChange.
	rev     int64
	floor   int64
	log     []logEntry
	events  []audit.Event
	changes []trust.Change
	pushed  bool // entries were logged without a Change (see announce)

	stats struct {
		observed, events, behind, snapshots atomic.Int64
	}

	// Used by the Run goroutine only.
	snapVersion  int64
	leaseVersion int64
	lastSnap     time.Time
	wroteSince   bool                // findings written since the last snapshot
	announced    map[string]struct{} // callers whose state was pushed (see announce)
}

// logEntry is one trust change for the sync hub.
type logEntry struct {
	rev   int64
	entry agentproto.TrustEntry
}

// New returns a Host for cfg. It returns an error for a missing
// dependency or the engine's error for invalid tuning.
func New(cfg Config) (*Host, error) {
	if cfg.Store == nil || cfg.Ledger == nil || cfg.Start == nil {
		return nil, errors.New("trusthost: Store, Ledger and Start are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.TickInterval, DefaultTickInterval}, {&cfg.SnapshotInterval, DefaultSnapshotInterval},
		{&cfg.PollInterval, DefaultPollInterval}, {&cfg.LeaseTTL, DefaultLeaseTTL}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.Replica == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.Replica = hex.EncodeToString(b[:])
	}
	h := &Host{cfg: cfg, wake: make(chan struct{}, 1), progress: make(chan struct{}), announced: map[string]struct{}{}}
	var err error
	h.engine, err = trust.New(trust.Config{Sink: sink{h}, RouteAllowed: cfg.RouteAllowed, Clock: cfg.Clock, Tuning: cfg.Tuning})
	if err != nil {
		return nil, fmt.Errorf("trusthost: %w", err)
	}
	h.applied.Store(-1)
	return h, nil
}

// Wake has the Host read the ledger now, rather than at its next poll:
// the server calls it after each commit of call records. It never blocks.
func (h *Host) Wake() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Leader reports whether this replica holds the lease: it writes the
// engine's findings to the ledger and saves its snapshots.
func (h *Host) Leader() bool { return h.leader.Load() }

// Applied returns the index of the last ledger event the engine applied,
// -1 before any.
func (h *Host) Applied() int64 { return h.applied.Load() }

// WaitApplied waits until the engine applied the ledger event at index,
// or ctx is done; it returns ctx's error then.
func (h *Host) WaitApplied(ctx context.Context, index int64) error {
	for {
		h.mu.Lock()
		ch := h.progress
		h.mu.Unlock()
		if h.applied.Load() >= index {
			return nil
		}
		h.Wake()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Progress returns a channel closed when the engine next applies ledger
// events (see WaitApplied).
func (h *Host) Progress() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.progress
}

// State returns identity's trust state with its reasons.
func (h *Host) State(identity string) trust.State { return h.engine.State(identity) }

// Trust returns identity's trust as policy sees it; it makes the Host an
// enforce.TrustSource for the server's own decisions (the token service).
func (h *Host) Trust(identity string) policy.Trust { return h.engine.State(identity).Trust }

// Table returns every tracked identity's trust.
func (h *Host) Table() trust.Table { return h.engine.Table() }

// Contexts returns identity's context inputs.
func (h *Host) Contexts(identity string) []trust.ContextInput { return h.engine.Contexts(identity) }

// Stats counts what a Host has done.
type Stats struct {
	trust.Stats
	// Observed counts the ledger events applied; Behind is how many events
	// the last read left for the next (a Host falling behind); Events the
	// findings this replica wrote to the ledger; Snapshots the snapshots
	// it saved; Revision the trust changes so far.
	Observed, Behind, Events, Snapshots, Revision int64
	// Leader says this replica holds the lease.
	Leader bool
}

// Stats returns the Host's counters.
func (h *Host) Stats() Stats {
	h.mu.Lock()
	rev := h.rev
	h.mu.Unlock()
	return Stats{Stats: h.engine.Stats(), Observed: h.stats.observed.Load(), Behind: h.stats.behind.Load(),
		Events: h.stats.events.Load(), Snapshots: h.stats.snapshots.Load(), Revision: rev, Leader: h.leader.Load()}
}

// sink queues what the engine finds; it runs under the engine's lock.
type sink struct{ h *Host }

func (s sink) Signal(sig trust.Signal) {
	s.h.mu.Lock()
	s.h.events = append(s.h.events, sig.Event())
	s.h.mu.Unlock()
}

func (s sink) Change(c trust.Change) {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rev++
	e := c.Entry()
	h.log = append(h.log, logEntry{rev: h.rev, entry: agentproto.TrustEntry{ID: e.Identity, Score: e.Score, Signals: e.Signals}})
	if c.LevelChanged() {
		h.events = append(h.events, c.Event())
	}
	h.changes = append(h.changes, c)
}
