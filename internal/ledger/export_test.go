package ledger

import (
	"context"
	"fmt"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/kith-dev/kith/internal/store"
)

// AppendRawForTest appends data as an entry exactly as given.
func (l *Ledger) AppendRawForTest(ctx context.Context, data []byte) (uint64, error) {
	return l.appendRaw(ctx, data)
}

// PublishForTest publishes a checkpoint now, as Run does at each tick.
func (l *Ledger) PublishForTest(ctx context.Context) (*Checkpoint, error) {
	return l.publish(ctx)
}

// EntryIndex is entryIndex, the decoder of entries' embedded indexes.
var EntryIndex = entryIndex

// AppendEntry is appendEntry.
var AppendEntry = appendEntry

// ParseCheckpointBody is parseCheckpointBody.
var ParseCheckpointBody = parseCheckpointBody

// CheckpointBody is checkpointBody.
var CheckpointBody = checkpointBody

// ErrRefused and ErrQuorum are publish's refusal and quorum errors.
var (
	ErrRefused = errRefused
	ErrQuorum  = errQuorum
)

// BulkLoad appends n entries of `{"index":i}` straight to the store of l,
// batch entries per transaction, bypassing the sequencer; for building
// large trees for benchmarks. Their actors cycle over 1,000 names
// (actor-0…), except that every millionth is "rare"; their targets over
// 200. progress, if set, is called after each batch.
func (l *Ledger) BulkLoad(ctx context.Context, n, batch int, progress func(done int)) error {
	t, err := l.loadTree(ctx)
	if err != nil {
		return err
	}
	for done := 0; done < n; {
		k := min(batch, n-done)
		a := store.LedgerAppend{PrevSize: int64(t.size), Events: make([]store.Event, k)}
		hashes := make([][]byte, k)
		for i := range k {
			index := t.size + uint64(i)
			data := fmt.Appendf(nil, `{"index":%d,"type":"bulk"}`, index)
			h := rfc6962.DefaultHasher.HashLeaf(data)
			actor := fmt.Sprint("actor-", index%1000)
			if index%1_000_000 == 999_999 {
				actor = "rare"
			}
			a.Events[i] = store.Event{Index: int64(index), Type: "bulk", Outcome: "success", Body: data, LeafHash: h,
				Actor: actor, Target: fmt.Sprint("target-", index%200)}
			hashes[i] = h
		}
		next, nodes, err := t.extend(l.rf, hashes)
		if err != nil {
			return err
		}
		a.Next, a.Nodes = next.state(), nodes
		err = l.store.ExtendLedger(ctx, func(store.LedgerState) (store.LedgerAppend, error) { return a, nil })
		if err != nil {
			return err
		}
		t, done = next, done+k
		if progress != nil {
			progress(done)
		}
	}
	l.tree = nil
	l.noteSize(t.size)
	return nil
}

// Fit exposes fit to the fuzz tests.
var Fit = fit
