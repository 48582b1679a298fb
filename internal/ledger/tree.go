package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

// The tree's hashes are stored sparsely: leaf hashes beside the events,
// and complete-subtree hashes only at every nodeLevelStep-th level (4, 8,
// 12, ...), about one node row per 15 events. Any other complete node is
// recomputed from at most 2^(nodeLevelStep-1) stored hashes below it.
const nodeLevelStep = 4

// hashSize is the size of a SHA-256 hash.
const hashSize = 32

// tree is the state of the Merkle tree: its size, compact range and root.
// A tree is never modified; extend returns a new one.
type tree struct {
	size uint64
	rng  *compact.Range
	root []byte // nil when size is 0
}

// decodeTree returns the tree st describes, after checking that its root
// is the one its compact range gives.
func decodeTree(rf *compact.RangeFactory, st store.LedgerState) (*tree, error) {
	if st.Size < 0 || len(st.Range)%hashSize != 0 {
		return nil, fmt.Errorf("ledger: stored tree state is malformed (size %d, range of %d bytes)", st.Size, len(st.Range))
	}
	var hashes [][]byte
	for b := st.Range; len(b) > 0; b = b[hashSize:] {
		hashes = append(hashes, b[:hashSize:hashSize])
	}
	rng, err := rf.NewRange(0, uint64(st.Size), hashes)
	if err != nil {
		return nil, fmt.Errorf("ledger: stored tree state: %w", err)
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, fmt.Errorf("ledger: stored tree state: %w", err)
	}
	if !bytes.Equal(root, st.Root) {
		return nil, fmt.Errorf("ledger: stored tree state at size %d: root does not match the compact range", st.Size)
	}
	return &tree{size: uint64(st.Size), rng: rng, root: root}, nil
}

// state returns the persisted form of t.
func (t *tree) state() store.LedgerState {
	return store.LedgerState{Size: int64(t.size), Root: t.root, Range: bytes.Join(t.rng.Hashes(), nil)}
}

// extend returns t with leafHashes appended, and the node hashes to store
// for them.
func (t *tree) extend(rf *compact.RangeFactory, leafHashes [][]byte) (*tree, []store.LedgerNode, error) {
	rng, err := rf.NewRange(0, t.size, slices.Clone(t.rng.Hashes()))
	if err != nil {
		return nil, nil, err
	}
	var nodes []store.LedgerNode
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level > 0 && id.Level%nodeLevelStep == 0 {
			nodes = append(nodes, store.LedgerNode{Level: int(id.Level), Index: int64(id.Index), Hash: hash})
		}
	}
	for _, h := range leafHashes {
		if err := rng.Append(h, visit); err != nil {
			return nil, nil, err
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, nil, err
	}
	return &tree{size: rng.End(), rng: rng, root: root}, nodes, nil
}

// rootHash returns the root of a tree given by its root field: the
// RFC 6962 empty-tree hash when it is empty.
func rootHash(root []byte) []byte {
	if root == nil {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	return root
}

// adoptBatch is how many legacy events one adoption step covers.
const adoptBatch = 1000

// loadTree adopts any events stored beyond the tree without a leaf hash,
// then reads and returns the persisted tree.
func (l *Ledger) loadTree(ctx context.Context) (*tree, error) {
	for attempt := 0; ; attempt++ {
		st, err := l.store.LedgerState(ctx)
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		if st.Events <= st.Size {
			t, err := decodeTree(l.rf, st)
			if err != nil {
				return nil, err
			}
			l.noteSize(t.size)
			return t, nil
		}
		err = l.adopt(ctx, st)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue // another writer moved the tree meanwhile
		}
		if err != nil {
			return nil, err
		}
	}
}

// adopt adds up to adoptBatch events stored after the tree of st without
// a leaf hash to the tree: each is re-encoded as an entry with its index,
// which is safe as no checkpoint covers them yet. It fails if such an
// event's body is not an event's JSON, and with store.ErrConflict if the
// tree moved since st.
func (l *Ledger) adopt(ctx context.Context, st store.LedgerState) error {
	rows, err := l.store.ListEvents(ctx, store.EventFilter{After: st.Size - 1, Limit: adoptBatch})
	if err != nil {
		return fmt.Errorf("ledger: adopt events: %w", err)
	}
	hashes := make([][]byte, len(rows))
	for i := range rows {
		r := &rows[i]
		if r.Index != st.Size+int64(i) || r.LeafHash != nil {
			return fmt.Errorf("ledger: adopt event %d: unexpected row %d: %w", st.Size+int64(i), r.Index, store.ErrConflict)
		}
		var ev audit.Event
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			return fmt.Errorf("ledger: adopt event %d: not an event: %w", r.Index, err)
		}
		body, err := audit.Marshal(ev)
		if err != nil {
			return err
		}
		r.Body = appendEntry(nil, uint64(r.Index), body)
		r.LeafHash = rfc6962.DefaultHasher.HashLeaf(r.Body)
		hashes[i] = r.LeafHash
	}
	var next *tree
	start := time.Now()
	err = l.store.ExtendLedger(ctx, func(locked store.LedgerState) (store.LedgerAppend, error) {
		if locked.Size != st.Size {
			return store.LedgerAppend{}, fmt.Errorf("tree moved from %d to %d: %w", st.Size, locked.Size, store.ErrConflict)
		}
		t, err := decodeTree(l.rf, locked)
		if err != nil {
			return store.LedgerAppend{}, err
		}
		n, nodes, err := t.extend(l.rf, hashes)
		if err != nil {
			return store.LedgerAppend{}, err
		}
		next = n
		return store.LedgerAppend{PrevSize: st.Size, Next: n.state(), Adopted: rows, Nodes: nodes}, nil
	})
	l.stats.noteCommit(len(rows), time.Since(start), err)
	if err != nil {
		return fmt.Errorf("ledger: adopt events: %w", err)
	}
	l.logger.LogAttrs(ctx, slog.LevelDebug, "ledger: adopted events stored outside the Merkle tree",
		slog.Int64("from", st.Size), slog.Uint64("to", next.size))
	return nil
}

// errRange is wrapped by the errors of proofs and entries that ask for
// something beyond the tree.
func errRange(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrOutOfRange, fmt.Sprintf(format, args...))
}
