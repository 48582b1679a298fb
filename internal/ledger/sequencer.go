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

	"github.com/kith-dev/kith/internal/audit"
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
	// group is set on the first request of a group submitted together
	// (a single request is a group of one): the requests, which lie
	// together in the queue and are committed in one batch. It is nil on
	// the others.
	group []*request
	// lead is signalled when the request is promoted to lead; only a
	// group's first request has it.
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
func (l *Ledger) Record(ctx context.Context, ev audit.Event) (int64, error) {
	r, err := l.newRequest(ctx, &ev)
	if err != nil {
		return 0, err
	}
	index, err := l.submit(ctx, []*request{r})
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

// RecordAll makes evs durable as consecutive entries of the log, committed
// in one transaction: all of them or none. It returns the index of the
// first. Each event is checked and completed as [Ledger.Record] does; an
// invalid one fails the whole call before anything is queued. A caller
// that retries a failed RecordAll thus never records an event twice.
func (l *Ledger) RecordAll(ctx context.Context, evs []audit.Event) (int64, error) {
	if len(evs) == 0 {
		return 0, errors.New("ledger: no events to record")
	}
	rs := make([]*request, len(evs))
	for i := range evs {
		ev := evs[i]
		r, err := l.newRequest(ctx, &ev)
		if err != nil {
			return 0, fmt.Errorf("event %d: %w", i, err)
		}
		rs[i] = r
	}
	index, err := l.submit(ctx, rs)
	if err != nil {
		return 0, err
	}
	return int64(index), nil
}

// newRequest checks ev, completes its time, shortens it if it would not
// fit an entry, and returns the request that records it.
func (l *Ledger) newRequest(ctx context.Context, ev *audit.Event) (*request, error) {
	if ev.Type == "" || ev.Action == "" || ev.Outcome == "" {
		return nil, fmt.Errorf("ledger: event needs type, action and outcome (got %q, %q, %q)", ev.Type, ev.Action, ev.Outcome)
	}
	if ev.Time.IsZero() {
		ev.Time = l.clock()
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	fitted, body, err := fit(*ev)
	if err != nil {
		return nil, err
	}
	*ev = fitted
	if _, ok := ev.Details[TruncatedDetail]; ok {
		l.logger.LogAttrs(ctx, slog.LevelWarn, "ledger: event text shortened to fit an entry",
			slog.String("type", ev.Type), slog.String("detail", ev.Details[TruncatedDetail]))
	}
	return &request{
		body: body,
		row: store.Event{Time: ev.Time, Type: ev.Type, Outcome: string(ev.Outcome),
			Actor: ev.Actor.ID, Target: ev.Target},
		size: len(body) + maxIndexLen,
	}, nil
}

// appendRaw appends data as one entry exactly as given, for tests that
// feed the tree with published test vectors.
func (l *Ledger) appendRaw(ctx context.Context, data []byte) (uint64, error) {
	if len(data) > MaxEntrySize {
		return 0, ErrTooLarge
	}
	return l.submit(ctx, []*request{{body: data, raw: true, size: len(data)}})
}

// submit queues rs, a group committed together in one batch, and returns
// the index of its first entry once it is committed. The caller leads
// the commit if no one else does.
func (l *Ledger) submit(ctx context.Context, rs []*request) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("ledger: record: %w", err)
	}
	for _, r := range rs {
		r.done = make(chan struct{})
	}
	head, last := rs[0], rs[len(rs)-1]
	head.group = rs
	head.lead = make(chan struct{}, 1)
	l.mu.Lock()
	l.queue = append(l.queue, rs...)
	if !l.leading {
		l.leading = true
		l.mu.Unlock()
		l.lead(ctx, head)
		return head.index, head.err
	}
	l.mu.Unlock()
	select {
	case <-last.done: // the group's members are completed in order
	case <-head.lead:
		l.lead(ctx, head)
	case <-ctx.Done():
		l.mu.Lock()
		if head.taken {
			// Already in a commit: its outcome is what counts.
			l.mu.Unlock()
			<-last.done
			break
		}
		l.removeLocked(head)
		if head.promoted {
			l.handOffLocked()
		}
		l.mu.Unlock()
		return 0, fmt.Errorf("ledger: record: %w", ctx.Err())
	}
	return head.index, head.err
}

// removeLocked removes the group of head from the queue.
func (l *Ledger) removeLocked(head *request) {
	if i := slices.Index(l.queue, head); i >= 0 {
		l.queue = slices.Delete(l.queue, i, i+len(head.group))
	}
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
			if !own.taken {
				l.removeLocked(own)
			}
			for _, r := range append(batch, own.group...) {
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

// takeLocked removes the next batch from the queue and marks it taken:
// whole groups, up to maxBatch entries and maxBatchBytes (the first group
// may pass them alone).
func (l *Ledger) takeLocked() []*request {
	n, bytes := 0, 0
	for n < len(l.queue) {
		g := l.queue[n].group
		size := 0
		for _, r := range g {
			size += r.size
		}
		if n > 0 && (n+len(g) > maxBatch || bytes+size > maxBatchBytes) {
			break
		}
		for _, r := range g {
			r.taken = true
		}
		n += len(g)
		bytes += size
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
	start := time.Now()
	var err error
	defer func() { l.stats.noteCommit(len(batch), time.Since(start), err) }()
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
func (l *Ledger) RecordTx(ctx context.Context, tx EventAppender, ev audit.Event) error {
	r, err := l.newRequest(ctx, &ev)
	if err != nil {
		return err
	}
	row := r.row
	row.Body = r.body
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

// TxAuditor records events in a caller's store transaction; *Ledger is
// one.
type TxAuditor interface {
	RecordTx(ctx context.Context, tx EventAppender, ev audit.Event) error
	Adopt(ctx context.Context) error
}

// TxStore runs a function in a store transaction; *store.Store is one.
type TxStore interface {
	Tx(ctx context.Context, fn func(tx *store.Tx) error) error
}

// WriteAudited runs write in a transaction of st and records the event it
// returns through a in the same transaction, so that a change and its
// audit record are written together or not at all; once committed, it
// has a adopt the event into the Merkle tree (a failure to adopt is not
// the change's: the ledger's Run loop adopts within a checkpoint
// interval). It returns write's error unchanged, or the recording's or
// the store's.
func WriteAudited(ctx context.Context, st TxStore, a TxAuditor, write func(tx *store.Tx) (audit.Event, error)) error {
	return WriteAuditedAll(ctx, st, a, func(tx *store.Tx) ([]audit.Event, error) {
		ev, err := write(tx)
		return []audit.Event{ev}, err
	})
}

// WriteAuditedAll is [WriteAudited] for a change that is several events,
// such as entries created together: all of them are recorded in the
// change's transaction, or none.
func WriteAuditedAll(ctx context.Context, st TxStore, a TxAuditor, write func(tx *store.Tx) ([]audit.Event, error)) error {
	err := st.Tx(ctx, func(tx *store.Tx) error {
		evs, err := write(tx)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if err := a.RecordTx(ctx, tx, ev); err != nil {
				return fmt.Errorf("record %s: %w", ev.Type, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	_ = a.Adopt(ctx)
	return nil
}
