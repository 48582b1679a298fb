package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

// Store is the persistence the ledger needs; *store.Store implements it.
type Store interface {
	LedgerState(ctx context.Context) (store.LedgerState, error)
	ExtendLedger(ctx context.Context, build func(st store.LedgerState) (store.LedgerAppend, error)) error
	LedgerHashes(ctx context.Context, level int, start, end int64) ([][]byte, error)
	ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error)
	AddCheckpoint(ctx context.Context, cp store.Checkpoint) error
	LatestCheckpoint(ctx context.Context) (store.Checkpoint, error)
	ListCheckpoints(ctx context.Context, afterSize int64, limit int) ([]store.Checkpoint, error)
}

// Config configures a [Ledger].
type Config struct {
	// Store keeps the log. Required.
	Store Store
	// Origin is the first line of the log's checkpoints, naming the log,
	// such as "example.org/kith/ledger". Required; it must equal the
	// Signer's key name (C2SP tlog-checkpoint).
	Origin string
	// Signer signs checkpoints with the log's Ed25519 note key. Required;
	// see [NewSigner] and [GenerateKey].
	Signer note.Signer
	// Verifier verifies the log's signatures. Nil means Signer's own, if
	// it has a Verifier() note.Verifier method as a [*Signer] has.
	Verifier note.Verifier
	// CheckpointInterval is how often [Ledger.Run] publishes a checkpoint
	// when the log has grown; zero means one second.
	CheckpointInterval time.Duration
	// Witnesses are asked to cosign each checkpoint before it is
	// published.
	Witnesses []Witness
	// Quorum is how many Witnesses must cosign a checkpoint before it is
	// published. Zero publishes without waiting for witnesses (they are
	// still asked, and their cosignatures kept when they answer).
	Quorum int
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives a line for every event (at Debug) and for
	// checkpoint problems; nil discards.
	Logger *slog.Logger
}

// Ledger is the audit log. It is safe for concurrent use.
type Ledger struct {
	store     Store
	origin    string
	signer    note.Signer
	verifier  note.Verifier
	interval  time.Duration
	witnesses []Witness
	quorum    int
	clock     func() time.Time
	logger    *slog.Logger
	rf        *compact.RangeFactory

	// size is the largest tree size this Ledger knows to be committed.
	size atomic.Uint64
	// stats counts commits and checkpoints (see Stats).
	stats stats
	// nodes caches the hashes of large complete subtrees, for proofs.
	nodes nodeCache

	// mu guards the sequencer's queue and leadership.
	mu      sync.Mutex
	queue   []*request
	leading bool
	// tree is the leader's view of the persisted tree; only the leader
	// touches it. Nil means reload it from the store.
	tree *tree

	// pubMu serialises publishing and guards witnessSize, the last tree
	// size each witness is known to hold.
	pubMu       sync.Mutex
	witnessSize []uint64

	// changed is closed at the next change; nil while no one waits (see
	// Changed).
	changedMu sync.Mutex
	changed   chan struct{}
}

// New returns a Ledger on the tree persisted in cfg.Store. If the store
// holds events appended outside the ledger (by a version of Kith before
// the Merkle log), New re-encodes them as entries and adds them to the
// tree first. It fails if a required field of cfg is missing, if the
// Signer and Verifier do not match each other or the Origin, if Quorum is
// negative or above the number of witnesses, or if the persisted state
// cannot be read or is inconsistent.
func New(ctx context.Context, cfg Config) (*Ledger, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	l := &Ledger{
		store:       cfg.Store,
		origin:      cfg.Origin,
		signer:      cfg.Signer,
		verifier:    cfg.Verifier,
		interval:    cfg.CheckpointInterval,
		witnesses:   cfg.Witnesses,
		quorum:      cfg.Quorum,
		clock:       cfg.Clock,
		logger:      cfg.Logger,
		rf:          &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren},
		witnessSize: make([]uint64, len(cfg.Witnesses)),
	}
	t, err := l.loadTree(ctx)
	if err != nil {
		return nil, err
	}
	l.tree = t
	return l, nil
}

// check validates cfg and fills its defaults.
func (cfg *Config) check() error {
	switch {
	case cfg.Store == nil:
		return errors.New("ledger: Config.Store is required")
	case cfg.Origin == "":
		return errors.New("ledger: Config.Origin is required")
	case cfg.Signer == nil:
		return errors.New("ledger: Config.Signer is required")
	case cfg.Signer.Name() != cfg.Origin:
		return fmt.Errorf("ledger: signer key is named %q, want the origin %q", cfg.Signer.Name(), cfg.Origin)
	case cfg.CheckpointInterval < 0:
		return errors.New("ledger: Config.CheckpointInterval is negative")
	case cfg.Quorum < 0 || cfg.Quorum > len(cfg.Witnesses):
		return fmt.Errorf("ledger: Config.Quorum %d is not within 0..%d witnesses", cfg.Quorum, len(cfg.Witnesses))
	}
	for i, w := range cfg.Witnesses {
		if w == nil {
			return fmt.Errorf("ledger: Config.Witnesses[%d] is nil", i)
		}
	}
	if cfg.Verifier == nil {
		withVerifier, ok := cfg.Signer.(interface{ Verifier() note.Verifier })
		if !ok {
			return errors.New("ledger: Config.Verifier is required unless the Signer has a Verifier method (see NewSigner)")
		}
		cfg.Verifier = withVerifier.Verifier()
	}
	if err := checkKeyPair(cfg.Signer, cfg.Verifier); err != nil {
		return err
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// checkKeyPair fails unless v verifies what s signs.
func checkKeyPair(s note.Signer, v note.Verifier) error {
	msg := []byte("kith ledger key check\n")
	sig, err := s.Sign(msg)
	if err != nil {
		return fmt.Errorf("ledger: signer: %w", err)
	}
	if v.Name() != s.Name() || v.KeyHash() != s.KeyHash() || !v.Verify(msg, sig) {
		return fmt.Errorf("ledger: verifier %s+%08x does not verify signer %s+%08x", v.Name(), v.KeyHash(), s.Name(), s.KeyHash())
	}
	return nil
}

// Origin returns the log's origin line.
func (l *Ledger) Origin() string { return l.origin }

// Verifier returns the verifier of the log's checkpoint signatures.
func (l *Ledger) Verifier() note.Verifier { return l.verifier }

// IndexedEvent is an event read back from the log with its index.
type IndexedEvent struct {
	Index int64
	Event audit.Event
}

// Query returns stored events matching f, oldest first, with their
// indexes. It returns an error if the store fails or holds an entry that
// is not an event.
func (l *Ledger) Query(ctx context.Context, f store.EventFilter) ([]IndexedEvent, error) {
	rows, err := l.store.ListEvents(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("ledger: query: %w", err)
	}
	out := make([]IndexedEvent, 0, len(rows))
	for _, r := range rows {
		var ev audit.Event
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			return nil, fmt.Errorf("ledger: event %d: %w", r.Index, err)
		}
		out = append(out, IndexedEvent{Index: r.Index, Event: ev})
	}
	return out, nil
}

// treeSize returns the persisted tree size, at least n if n is known to
// be committed: it asks the store only when n is beyond what this Ledger
// has seen.
func (l *Ledger) treeSize(ctx context.Context, n uint64) (uint64, error) {
	if size := l.size.Load(); n <= size {
		return size, nil
	}
	st, err := l.store.LedgerState(ctx)
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	l.noteSize(uint64(st.Size))
	return uint64(st.Size), nil
}

// noteSize records that the tree has reached at least n.
func (l *Ledger) noteSize(n uint64) {
	for {
		old := l.size.Load()
		if n <= old {
			return
		}
		if l.size.CompareAndSwap(old, n) {
			l.noteChanged()
			return
		}
	}
}
