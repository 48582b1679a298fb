package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"

	"github.com/kith-dev/kith/internal/store"
)

// DefaultRecentEntries is how many entries before the latest checkpoint
// [Ledger.VerifyRecent] rehashes when asked for none in particular.
const DefaultRecentEntries = 4096

// VerifyRecent is the quick check of the ledger's own store that a server
// makes before it serves: it checks the latest checkpoint's signature,
// that the stored tree is not smaller than it, and that the last n entries
// it covers (DefaultRecentEntries when n is zero), joined to the stored
// hashes of the entries before them, give its signed root, then rehashes
// the entries appended since and checks that they give the stored tree's
// root. Each entry must embed its own index and hash to its stored leaf
// hash; the first that does not is named, as [VerifyLog] names it.
//
// It reads about n entries and a few dozen hashes whatever the log's
// size, so it finds what was altered, deleted or rolled back at the end
// of the log and in the stored tree, not an edit of an older entry: that
// is for [VerifyLog], which walks the whole log.
//
// It returns a report and nil if the store verified; a report and an
// error wrapping [ErrVerificationFailed] if it did not; and another error
// (the store failing, ctx ending) otherwise. Before the first checkpoint
// it checks every entry against the stored tree.
func (l *Ledger) VerifyRecent(ctx context.Context, n uint64) (*VerifyReport, error) {
	if n == 0 {
		n = DefaultRecentEntries
	}
	w := newWalker(l.Source(), VerifyOptions{Verifier: l.verifier})
	st, err := l.store.LedgerState(ctx)
	if err != nil {
		return w.result(err)
	}
	t, err := decodeTree(l.rf, st)
	if err != nil {
		return w.result(failf(-1, "the stored tree state is inconsistent: %v", err))
	}
	l.noteSize(t.size)
	w.seek = func(ctx context.Context, latest *Checkpoint) (uint64, [][]byte, error) {
		if latest.Size > t.size {
			return 0, nil, failf(int64(t.size), "the stored tree (size %d) is smaller than the signed checkpoint (size %d): entries were removed", t.size, latest.Size)
		}
		start := latest.Size - min(latest.Size, n)
		left, err := l.nodeHashes(ctx, compact.RangeNodes(0, start, nil))
		if err != nil {
			return 0, nil, err
		}
		return start, left, nil
	}
	_, err = l.store.LatestCheckpoint(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Nothing is signed yet: every entry is checked against the tree.
	case err != nil:
		return w.result(err)
	default:
		if err := w.run(ctx); err != nil {
			return w.result(err)
		}
	}
	return w.result(w.tail(ctx, l, t))
}

// tail walks the entries after the latest checkpoint up to the stored
// tree t and compares their tree with t's root.
func (w *walker) tail(ctx context.Context, l *Ledger, t *tree) error {
	w.rep.Size = t.size
	for w.data.End() < t.size {
		start := w.data.End()
		entries, err := l.Entries(ctx, start, min(start+verifyEntryBatch, t.size))
		if err != nil {
			return fmt.Errorf("entries from %d: %w", start, err)
		}
		if len(entries) == 0 {
			return failf(int64(start), "the log ends at entry %d but the stored tree covers %d", start, t.size)
		}
		for _, e := range entries {
			if err := w.entry(e); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return w.compare(rootHash(t.root), fmt.Sprintf("the stored tree state at size %d (not yet signed)", t.size))
}
