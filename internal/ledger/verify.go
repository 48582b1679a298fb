package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// LogSource is a log to verify: its latest signed checkpoint, the history
// of checkpoints it published, and its entries. The CLI reads one over
// HTTP; [Ledger.Source] serves a Ledger's own store. A LogSource returns
// what the log holds without judging it: checking is for [VerifyLog].
type LogSource interface {
	// Checkpoint returns the latest signed checkpoint note.
	Checkpoint(ctx context.Context) ([]byte, error)
	// Checkpoints returns the notes of the published checkpoints of size
	// greater than afterSize, smallest first, at most limit of them.
	Checkpoints(ctx context.Context, afterSize uint64, limit int) ([][]byte, error)
	// Entries returns the entries with indexes in [start, end), or a
	// prefix of them.
	Entries(ctx context.Context, start, end uint64) ([]Entry, error)
}

// VerifyOptions configures [VerifyLog].
type VerifyOptions struct {
	// Verifier is the log's public key. Required.
	Verifier note.Verifier
	// Trusted is a checkpoint verified earlier, if any: the log must still
	// hold it, as a prefix of the latest checkpoint.
	Trusted *Checkpoint
	// Progress, if set, is called after each batch of entries with the
	// number verified and the number to verify.
	Progress func(done, total uint64)
}

// VerifyReport is the outcome of [VerifyLog].
type VerifyReport struct {
	// Size is the size of the latest checkpoint, which the walk covered.
	Size uint64
	// Checkpoint is the latest checkpoint, when its signature verified.
	Checkpoint *Checkpoint
	// FirstBad is the index of the first entry found altered, missing or
	// out of place, or -1 if none was (also when the problem lies with a
	// checkpoint rather than an entry).
	FirstBad int64
	// Problem says what is wrong, in a sentence; empty if the log verified.
	Problem string
}

// Verification batch sizes.
const (
	verifyEntryBatch      = 1000
	verifyCheckpointBatch = 1000
)

// VerifyLog checks a whole log against its public key. It reads the latest
// checkpoint and checks its signature (and that it extends opt.Trusted),
// then walks every entry it covers in batches of 1000: each entry must
// embed its own index (so a deleted or reordered entry is named exactly),
// its data must hash to its stored leaf hash, and the tree rebuilt from
// the data must have the root of every published checkpoint it passes,
// whose signatures are checked too.
//
// When an entry's data does not hash to its stored leaf hash and the
// stored hashes still give the signed root, that entry is named. When the
// stored leaf hashes were rewritten along with the data, the altered
// entry is only known to lie between two checkpoints: FirstBad is the
// first index of that interval and Problem says so.
//
// VerifyLog returns the report and nil if the log verified. If it did
// not, the report says why and the error wraps [ErrVerificationFailed].
// Any other error (the source failing, ctx ending, no Verifier) comes with
// a report of what was verified so far, if anything.
func VerifyLog(ctx context.Context, src LogSource, opt VerifyOptions) (*VerifyReport, error) {
	if opt.Verifier == nil {
		return nil, errors.New("ledger: verify: VerifyOptions.Verifier is required")
	}
	w := newWalker(src, opt)
	return w.result(w.run(ctx))
}

// newWalker returns a walker over src from its first entry.
func newWalker(src LogSource, opt VerifyOptions) *walker {
	w := &walker{src: src, opt: opt, rep: &VerifyReport{FirstBad: -1}, firstMismatch: -1,
		rf: &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}}
	w.data, w.stored = w.rf.NewEmptyRange(0), w.rf.NewEmptyRange(0)
	return w
}

// result completes the report with the outcome of a walk, err, and
// returns what VerifyLog returns.
func (w *walker) result(err error) (*VerifyReport, error) {
	var p *problem
	if errors.As(err, &p) {
		w.rep.FirstBad, w.rep.Problem = p.firstBad, p.text
		return w.rep, fmt.Errorf("%w: %s", ErrVerificationFailed, p.text)
	}
	if err != nil {
		return w.rep, fmt.Errorf("ledger: verify: %w", err)
	}
	return w.rep, nil
}

// problem is a verification failure found by the walker.
type problem struct {
	firstBad int64
	text     string
}

func (p *problem) Error() string { return p.text }

// failf returns a problem naming entry firstBad (-1 for none).
func failf(firstBad int64, format string, args ...any) *problem {
	return &problem{firstBad: firstBad, text: fmt.Sprintf(format, args...)}
}

// walker holds the state of one VerifyLog walk.
type walker struct {
	src    LogSource
	opt    VerifyOptions
	rep    *VerifyReport
	latest *Checkpoint
	rf     *compact.RangeFactory

	// seek, if set, is called once the latest checkpoint is read, to
	// start the walk further on: it returns the index of the first entry
	// to walk and the compact range of the entries before it.
	seek func(ctx context.Context, latest *Checkpoint) (start uint64, left [][]byte, err error)
	// start is where the walk started: 0, or where seek said.
	start uint64

	// data is the tree of the entries' data, stored the tree of their
	// stored leaf hashes.
	data, stored *compact.Range
	// firstMismatch is the first entry since the last verified checkpoint
	// whose data does not hash to its stored leaf hash, or -1.
	firstMismatch int64
	// verified is the size of the last checkpoint the data matched.
	verified uint64

	// history holds fetched checkpoints not yet passed; historyAfter is
	// the largest size fetched, historyDone whether all are.
	history      []*Checkpoint
	historyAfter uint64
	historyDone  bool
}

func (w *walker) run(ctx context.Context) error {
	msg, err := w.src.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("latest checkpoint: %w", err)
	}
	latest, err := ParseCheckpoint(msg, w.opt.Verifier)
	if err != nil {
		return failf(-1, "the latest checkpoint does not verify: %v", err)
	}
	w.latest, w.rep.Checkpoint, w.rep.Size = latest, latest, latest.Size
	if t := w.opt.Trusted; t != nil {
		if t.Origin != latest.Origin {
			return failf(-1, "the trusted checkpoint is of log %q, not %q", t.Origin, latest.Origin)
		}
		if t.Size > latest.Size {
			return failf(-1, "the latest checkpoint (size %d) is smaller than the trusted one (size %d): the log was rolled back", latest.Size, t.Size)
		}
	}
	if w.seek != nil {
		start, left, err := w.seek(ctx, latest)
		if err != nil {
			return err
		}
		if w.data, err = w.rf.NewRange(0, start, left); err != nil {
			return err
		}
		if w.stored, err = w.rf.NewRange(0, start, slices.Clone(left)); err != nil {
			return err
		}
		w.start, w.verified, w.historyAfter = start, start, start
	}
	if err := w.boundary(ctx); err != nil { // size 0, or where seek started
		return err
	}
	for w.data.End() < latest.Size {
		start := w.data.End()
		entries, err := w.src.Entries(ctx, start, min(start+verifyEntryBatch, latest.Size))
		if err != nil {
			return fmt.Errorf("entries from %d: %w", start, err)
		}
		if len(entries) == 0 {
			return failf(int64(start), "the log ends at entry %d but its checkpoint covers %d", start, latest.Size)
		}
		for _, e := range entries[:min(len(entries), int(latest.Size-start))] {
			if err := w.entry(e); err != nil {
				return err
			}
			if err := w.boundary(ctx); err != nil {
				return err
			}
		}
		if w.opt.Progress != nil {
			w.opt.Progress(w.data.End(), latest.Size)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// entry checks e, the next entry, and adds it to both trees.
func (w *walker) entry(e Entry) error {
	pos := w.data.End()
	if e.Index != pos {
		return failf(int64(pos), "entry %d is missing: the log gives entry %d in its place", pos, e.Index)
	}
	embedded, err := entryIndex(e.Data)
	if err != nil {
		return failf(int64(pos), "entry %d is malformed: %v", pos, err)
	}
	if embedded != pos {
		return failf(int64(pos), "entry %d embeds index %d: entries were deleted, inserted or reordered", pos, embedded)
	}
	h := rfc6962.DefaultHasher.HashLeaf(e.Data)
	if !bytes.Equal(h, e.LeafHash) && w.firstMismatch < 0 {
		w.firstMismatch = int64(pos)
	}
	stored := e.LeafHash
	if len(stored) != hashSize {
		stored = make([]byte, hashSize) // keeps the tree computable; it cannot match
	}
	if err := w.data.Append(h, nil); err != nil {
		return err
	}
	return w.stored.Append(stored, nil)
}

// boundary compares the trees with every checkpoint of the size reached.
func (w *walker) boundary(ctx context.Context) error {
	size := w.data.End()
	for {
		next, err := w.nextCheckpoint(ctx)
		if err != nil {
			return err
		}
		if next == nil || next.Size > size {
			break
		}
		w.history = w.history[1:]
		if err := w.compare(next.Root, fmt.Sprintf("the checkpoint at size %d", size)); err != nil {
			return err
		}
	}
	if t := w.opt.Trusted; t != nil && t.Size == size {
		// The log's own checkpoints up to here matched its entries; a
		// different root now means the log's history is not the one
		// trusted before.
		root, err := w.data.GetRootHash(nil)
		if err != nil {
			return err
		}
		if !bytes.Equal(rootHash(root), t.Root) {
			return failf(-1, "the log is not consistent with the trusted checkpoint at size %d: it was forked or rewritten since", size)
		}
	}
	if size == w.latest.Size {
		return w.compare(w.latest.Root, fmt.Sprintf("the latest checkpoint, at size %d", size))
	}
	return nil
}

// compare checks the trees against root, signed by what, and locates
// the first bad entry if they do not match.
func (w *walker) compare(root []byte, what string) error {
	size := w.data.End()
	dataRoot, err := w.data.GetRootHash(nil)
	if err != nil {
		return err
	}
	if bytes.Equal(rootHash(dataRoot), root) {
		if w.firstMismatch >= 0 {
			return failf(w.firstMismatch, "the stored leaf hash of entry %d was altered: it does not match the entry's data, which %s commits to", w.firstMismatch, what)
		}
		w.verified = size
		return nil
	}
	storedRoot, err := w.stored.GetRootHash(nil)
	if err != nil {
		return err
	}
	if bytes.Equal(rootHash(storedRoot), root) && w.firstMismatch >= 0 {
		return failf(w.firstMismatch, "entry %d was altered: its data does not hash to the leaf hash %s commits to", w.firstMismatch, what)
	}
	if size == 0 {
		return failf(-1, "%s does not have the empty tree's root", what)
	}
	if w.start > 0 && w.verified == w.start {
		// The stored hashes of the entries before the walk's start are
		// part of the tree compared; they may be what was altered.
		return failf(0, "entries 0 to %d do not match %s: either entries %d to %d were altered along with their stored leaf hashes, or the stored hashes of the entries before %d were; verify the whole log to find the altered entry", size-1, what, w.start, size-1, w.start)
	}
	return failf(int64(w.verified), "entries %d to %d do not match %s, and their stored leaf hashes were rewritten to match the data, so the altered entry is not known more precisely than this interval", w.verified, size-1, what)
}

// nextCheckpoint returns the next checkpoint of the history not yet
// passed, fetching more as needed, or nil at the end.
func (w *walker) nextCheckpoint(ctx context.Context) (*Checkpoint, error) {
	for len(w.history) == 0 && !w.historyDone {
		notes, err := w.src.Checkpoints(ctx, w.historyAfter, verifyCheckpointBatch)
		if err != nil {
			return nil, fmt.Errorf("checkpoints after size %d: %w", w.historyAfter, err)
		}
		if len(notes) == 0 {
			w.historyDone = true
		}
		for _, n := range notes {
			cp, err := ParseCheckpoint(n, w.opt.Verifier)
			if err != nil {
				return nil, failf(-1, "the published checkpoint following size %d does not verify: %v", w.historyAfter, err)
			}
			if cp.Size <= w.historyAfter {
				return nil, failf(-1, "the checkpoint history is out of order: size %d after %d", cp.Size, w.historyAfter)
			}
			if cp.Size > w.latest.Size {
				return nil, failf(-1, "a checkpoint of size %d was published, beyond the latest (size %d): the log was rolled back", cp.Size, w.latest.Size)
			}
			w.history = append(w.history, cp)
			w.historyAfter = cp.Size
		}
		if len(notes) > 0 && w.historyAfter == w.latest.Size {
			w.historyDone = true
		}
	}
	if len(w.history) == 0 {
		return nil, nil
	}
	return w.history[0], nil
}
