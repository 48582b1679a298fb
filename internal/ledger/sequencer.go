package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/kith-dev/kith/internal/store"
)

// Limits of the sequencer.
const (
	// maxBatch caps the entries one commit writes.
	maxBatch = 4096
	// maxBatchBytes caps the entry bytes one commit writes (one entry
	// may pass it alone).
	maxBatchBytes = 8 << 20
	// maxAttempts caps the commits of one batch that lose the race
	// against another writer of the same store.
	maxAttempts = 16
	// commitTimeout bounds one commit, which runs on a context detached
	// from the cancellation of the caller that leads it.
	commitTimeout = 30 * time.Second
)

// request is one entry waiting to be committed.
type request struct {
	body []byte      // the event's canonical JSON, or the whole leaf data when raw
	raw  bool        // body is the leaf data as is (tests)
	row  store.Event // the columns kept beside the entry
	size int         // the entry's size bound, for batching

	// done is closed when the request is committed or has failed; index
	// and err are set before.
	done  chan struct{}
	index uint64
	err   error
	// lead is signalled when the request is promoted to lead.
	lead chan struct{}

	// Guarded by Ledger.mu.
	taken    bool // in a batch being committed
	promoted bool // told to lead
}

// Record makes ev durable as the next entry of the log and returns its
// index. It fills ev.Time when zero. An event whose entry would exceed
// [MaxEntrySize] has its text shortened until it fits, and says so in
// Details[TruncatedDetail]. It returns an error if the event lacks a
// Type, Action or Outcome, ctx's error if ctx ends before the event is
// handed to a commit (the event is then not recorded), or the store's
// error; the caller must then treat the audited action as failed.
//
// Concurrent calls are committed together: the first caller to find no
// commit in progress commits every waiting event in one transaction and
// then hands over to a waiting caller, so Record needs no background
// goroutine and no caller waits for more than its own batch and the one
// before.
func (l *Ledger) Record(ctx context.Context, ev Event) (int64, error) {
	if ev.Type == "" || ev.Action == "" || ev.Outcome == "" {
		return 0, fmt.Errorf("ledger: event needs type, action and outcome (got %q, %q, %q)", ev.Type, ev.Action, ev.Outcome)
	}
	if ev.Time.IsZero() {
		ev.Time = l.clock()
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	ev, body, err := fit(ev)
	if err != nil {
		return 0, err
	}
	if _, ok := ev.Details[TruncatedDetail]; ok {
		l.logger.LogAttrs(ctx, slog.LevelWarn, "ledger: event text shortened to fit an entry",
			slog.String("type", ev.Type), slog.String("detail", ev.Details[TruncatedDetail]))
	}
	r := &request{
		body: body,
		row: store.Event{Time: ev.Time, Type: ev.Type, Outcome: string(ev.Outcome),
			Actor: ev.Actor.ID, Target: ev.Target},
		size: len(body) + maxIndexLen,
	}
	index, err := l.submit(ctx, r)
	if err != nil {
		return 0, err
	}
	// At Debug: the ledger is the record, and at tens of thousands of
	// events a second one log line each (a handler lock and a write
	// call apiece) would cost more than the append.
	l.logger.LogAttrs(ctx, slog.LevelDebug, "audit",
		slog.Uint64("index", index),
		slog.String("type", ev.Type),
		slog.String("actor", ev.Actor.ID),
		slog.String("target", ev.Target),
		slog.String("outcome", string(ev.Outcome)))
	return int64(index), nil
}

// appendRaw appends data as one entry exactly as given, for tests that
// feed the tree with published test vectors.
func (l *Ledger) appendRaw(ctx context.Context, data []byte) (uint64, error) {
	if len(data) > MaxEntrySize {
		return 0, ErrTooLarge
	}
	return l.submit(ctx, &request{body: data, raw: true, size: len(data)})
}

// submit queues r and returns once it is committed. The caller leads the
// commit if no one else does.
func (l *Ledger) submit(ctx context.Context, r *request) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("ledger: record: %w", err)
	}
	r.done = make(chan struct{})
	r.lead = make(chan struct{}, 1)
	l.mu.Lock()
	l.queue = append(l.queue, r)
	if !l.leading {
		l.leading = true
		l.mu.Unlock()
		l.lead(ctx, r)
		return r.index, r.err
	}
	l.mu.Unlock()
	select {
	case <-r.done:
	case <-r.lead:
		l.lead(ctx, r)
	case <-ctx.Done():
		l.mu.Lock()
		if r.taken {
			// Already in a commit: its outcome is what counts.
			l.mu.Unlock()
			<-r.done
			break
		}
		l.queue = slices.DeleteFunc(l.queue, func(q *request) bool { return q == r })
		if r.promoted {
			l.handOffLocked()
		}
		l.mu.Unlock()
		return 0, fmt.Errorf("ledger: record: %w", ctx.Err())
	}
	return r.index, r.err
}

// lead commits batches from the head of the queue until own is
// committed, then hands leadership to the next waiting request. Commits
// run on a context detached from the cancellation of ctx: the batch holds
// other callers' events.
func (l *Ledger) lead(ctx context.Context, own *request) {
	base := context.WithoutCancel(ctx)
	var batch []*request
	defer func() {
		// A panic in the store must not leave the waiters and the
		// leadership behind: fail what is pending of the batch and own
		// request, hand over, panic on.
		if p := recover(); p != nil {
			l.tree = nil
			err := fmt.Errorf("ledger: record: commit panicked: %v", p)
			l.mu.Lock()
			l.queue = slices.DeleteFunc(l.queue, func(r *request) bool { return r == own })
			for _, r := range append(batch, own) {
				if !isClosed(r.done) {
					r.err = err
					close(r.done)
				}
			}
			l.handOffLocked()
			l.mu.Unlock()
			panic(p)
		}
	}()
	for {
		l.mu.Lock()
		batch = l.takeLocked()
		l.mu.Unlock()
		cctx, cancel := context.WithTimeout(base, commitTimeout)
		l.commit(cctx, batch)
		cancel()
		if slices.Contains(batch, own) {
			break
		}
	}
	l.mu.Lock()
	l.handOffLocked()
	l.mu.Unlock()
}

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// takeLocked removes the next batch from the queue and marks it taken.
func (l *Ledger) takeLocked() []*request {
	n, bytes := 0, 0
	for n < len(l.queue) && n < maxBatch && (n == 0 || bytes+l.queue[n].size <= maxBatchBytes) {
		bytes += l.queue[n].size
		l.queue[n].taken = true
		n++
	}
	batch := slices.Clone(l.queue[:n])
	l.queue = slices.Delete(l.queue, 0, n)
	return batch
}

// handOffLocked promotes the head of the queue to lead, or ends
// leadership if the queue is empty.
func (l *Ledger) handOffLocked() {
	if len(l.queue) == 0 {
		l.leading = false
		return
	}
	next := l.queue[0]
	next.promoted = true
	next.lead <- struct{}{}
}

// errAdopt is returned by commit's build function when the store holds
// events appended outside the ledger, which must be adopted first.
var errAdopt = errors.New("ledger: events to adopt")

// commit makes batch durable in one store transaction, on the tree state
// read under the store's lock, and completes each request.
func (l *Ledger) commit(ctx context.Context, batch []*request) {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var next *tree
		err = l.store.ExtendLedger(ctx, func(st store.LedgerState) (store.LedgerAppend, error) {
			if st.Events > st.Size {
				return store.LedgerAppend{}, errAdopt
			}
			t := l.tree
			if t == nil || int64(t.size) != st.Size || !bytes.Equal(t.root, st.Root) {
				// Another writer of the store appended, or this is the
				// first commit after a failure.
				var err error
				if t, err = decodeTree(l.rf, st); err != nil {
					return store.LedgerAppend{}, err
				}
			}
			var a store.LedgerAppend
			var err error
			next, a, err = l.prepare(t, batch)
			return a, err
		})
		if err == nil {
			l.tree = next
			l.noteSize(next.size)
			first := next.size - uint64(len(batch))
			for i, r := range batch {
				r.index = first + uint64(i)
				close(r.done)
			}
			return
		}
		// Whatever happened, the persisted state is no longer known.
		l.tree = nil
		if errors.Is(err, errAdopt) {
			if _, err = l.loadTree(ctx); err == nil {
				continue
			}
		}
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	for _, r := range batch {
		r.err = fmt.Errorf("ledger: record: %w", err)
		close(r.done)
	}
}

// prepare encodes batch as the entries following t and returns the
// extended tree with the append that persists it.
func (l *Ledger) prepare(t *tree, batch []*request) (*tree, store.LedgerAppend, error) {
	a := store.LedgerAppend{PrevSize: int64(t.size), Events: make([]store.Event, len(batch))}
	hashes := make([][]byte, len(batch))
	for i, r := range batch {
		index := t.size + uint64(i)
		data := r.body
		if !r.raw {
			data = appendEntry(make([]byte, 0, len(r.body)+maxIndexLen), index, r.body)
		}
		ev := r.row
		ev.Index, ev.Body = int64(index), data
		ev.LeafHash = rfc6962.DefaultHasher.HashLeaf(data)
		a.Events[i], hashes[i] = ev, ev.LeafHash
	}
	next, nodes, err := t.extend(l.rf, hashes)
	if err != nil {
		return nil, a, fmt.Errorf("extend tree: %w", err)
	}
	a.Next, a.Nodes = next.state(), nodes
	return next, a, nil
}

// EventAppender stores an event in the caller's store transaction;
// [*store.Tx] is one.
type EventAppender interface {
	AppendEvent(ctx context.Context, ev *store.Event) error
}

// RecordTx stores ev in tx, the caller's store transaction, so that the
// audit record of a change is written if and only if the change is: it
// can neither be lost after the change commits nor claim a change that
// rolled back. The event enters the Merkle tree, which gives it its final
// place, at the ledger's next commit, at [Ledger.Adopt], or within a
// checkpoint interval while [Ledger.Run] runs; until then it is stored
// and listed but no checkpoint covers it. ev is checked and completed as
// [Ledger.Record] does; the error is the check's or tx's.
func (l *Ledger) RecordTx(ctx context.Context, tx EventAppender, ev Event) error {
	if ev.Type == "" || ev.Action == "" || ev.Outcome == "" {
		return fmt.Errorf("ledger: event needs type, action and outcome (got %q, %q, %q)", ev.Type, ev.Action, ev.Outcome)
	}
	if ev.Time.IsZero() {
		ev.Time = l.clock()
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	ev, body, err := fit(ev)
	if err != nil {
		return err
	}
	row := store.Event{Time: ev.Time, Type: ev.Type, Outcome: string(ev.Outcome), Actor: ev.Actor.ID, Target: ev.Target, Body: body}
	if err := tx.AppendEvent(ctx, &row); err != nil {
		return fmt.Errorf("ledger: record in transaction: %w", err)
	}
	return nil
}

// Adopt adds the events stored outside the tree (by [Ledger.RecordTx], or
// by a version of Kith before the Merkle log) to the tree, in their
// order. Callers of RecordTx call it after their transaction commits, so
// that the event is in the tree at once; it is safe to call at any time
// and concurrently with Record.
func (l *Ledger) Adopt(ctx context.Context) error {
	_, err := l.loadTree(ctx)
	return err
}
