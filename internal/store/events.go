package store

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// AppendEvent stores ev at the end of the event log and sets ev.Index to
// its position. It stores no leaf hash: package ledger appends with
// [Store.AppendLedger] instead, and adopts rows written here into its
// Merkle tree when it next appends. Indexes start at 0 and are
// contiguous: each is one past the last stored, read under the ledger
// state's lock, which serialises concurrent appenders until they commit,
// so no index is ever skipped, repeated or seen before an earlier one.
func (q queries) AppendEvent(ctx context.Context, ev *Event) error {
	if ev == nil {
		return fmt.Errorf("store: append event: nil event")
	}
	var idx int64
	var keys *segmentKeys
	err := q.atomic(ctx, func(q queries) error {
		if _, err := q.exec(ctx, `UPDATE ledger_state SET size = size WHERE id = 1`); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var err error
		if idx, err = q.eventCount(ctx); err != nil {
			return err
		}
		row := *ev
		row.Index, row.LeafHash = idx, nil
		keys, err = q.insertEvents(ctx, []Event{row})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: append event %s: %w", ev.Type, err)
	}
	q.remember(keys)
	ev.Index = idx
	return nil
}

// bundlePage is how many bundles one query of ListEvents reads.
const bundlePage = 16

// ListEvents returns the events matching f in Index order: those with an
// Index greater than f.After, at most f.Limit of them (100 when zero, never
// more than 1000). Type, Actor, Target and Outcome match exactly when set;
// Since and Until, when set, bound Time to the half-open range
// [Since, Until).
//
// With a type, actor or target, only the segments whose key index holds
// all of them are read, and the segment not yet complete; otherwise every
// bundle after f.After is. Bundles are read bundlePage at a time, skipped
// by their time range, decoded and filtered until the page is full.
func (q queries) ListEvents(ctx context.Context, f EventFilter) ([]Event, error) {
	limit := pageSize(f.Limit)
	var keys []string
	for _, k := range [...]struct{ kind, v string }{{keyActor, f.Actor}, {keyTarget, f.Target}, {keyType, f.Type}} {
		if k.v != "" {
			keys = append(keys, k.kind+k.v)
		}
	}
	var cond strings.Builder
	var timeArgs []any
	if !f.Since.IsZero() {
		cond.WriteString(` AND max_time >= ?`)
		timeArgs = append(timeArgs, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		cond.WriteString(` AND min_time < ?`)
		timeArgs = append(timeArgs, f.Until.UnixMicro())
	}
	query := `SELECT first_idx, last_idx, leaf_hashes, events FROM ledger_bundles WHERE last_idx > ? AND last_idx < ?` +
		cond.String() + fmt.Sprintf(` ORDER BY last_idx LIMIT %d`, bundlePage)

	keep := func(r *rawEvent) bool { return r.index > f.After && f.matches(r) }
	var out []Event
	// scan reads the matching events of the bundles with last_idx in
	// (after, end) into out; it reports whether out is full.
	scan := func(after, end int64) (bool, error) {
		args := append([]any{after, end}, timeArgs...)
		for {
			n, last, err := q.scanBundles(ctx, query, args, keep, func(ev *Event) bool {
				e := *ev
				e.Body, e.LeafHash = cloneBytes(ev.Body), cloneBytes(ev.LeafHash)
				out = append(out, e)
				return len(out) < limit
			})
			if err != nil || len(out) >= limit {
				return len(out) >= limit, err
			}
			if n < bundlePage {
				return false, nil
			}
			args[0] = last
		}
	}
	if len(keys) == 0 {
		_, err := scan(f.After, math.MaxInt64)
		if err != nil {
			return nil, fmt.Errorf("store: list events: %w", err)
		}
		return out, nil
	}
	count, err := q.eventCount(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	complete := count / segmentSize
	for from := max(f.After+1, 0) / segmentSize; from < complete; from += segmentProbe {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		segs, err := q.segmentsHolding(ctx, from, min(from+segmentProbe, complete), keys)
		if err != nil {
			return nil, fmt.Errorf("store: list events: %w", err)
		}
		for _, seg := range segs {
			full, err := scan(max(f.After, seg*segmentSize-1), (seg+1)*segmentSize)
			if err != nil {
				return nil, fmt.Errorf("store: list events: %w", err)
			}
			if full {
				return out, nil
			}
		}
	}
	if _, err := scan(max(f.After, complete*segmentSize-1), math.MaxInt64); err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	return out, nil
}

// segmentProbe is how many segments one query of segmentsHolding looks
// at: a power of two, so that its statements are few and cached.
const segmentProbe = 64

// segmentsHolding returns, in order, the segments in [from, to) whose
// key index holds every one of keys.
func (q queries) segmentsHolding(ctx context.Context, from, to int64, keys []string) ([]int64, error) {
	var segs []int64
	for s := from; s < to; s++ {
		segs = append(segs, s)
	}
	for _, k := range keys {
		if len(segs) == 0 {
			break
		}
		// Pad the IN list to a power of two with a segment that cannot
		// exist, so that the statement is one of few.
		size := 1
		for size < len(segs) {
			size *= 2
		}
		args := make([]any, 0, size+1)
		args = append(args, k)
		for i := range size {
			if i < len(segs) {
				args = append(args, segs[i])
			} else {
				args = append(args, int64(-1))
			}
		}
		rows, err := q.queryCached(ctx, `SELECT segment FROM ledger_keys WHERE key = ? AND segment IN (?`+
			strings.Repeat(", ?", size-1)+`) ORDER BY segment`, args...)
		if err != nil {
			return nil, err
		}
		held := segs[:0]
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, err
			}
			held = append(held, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		segs = held
	}
	return segs, nil
}

// matches reports whether r passes f's conditions other than After.
// Times compare in whole microseconds, as stored.
func (f *EventFilter) matches(r *rawEvent) bool {
	return (f.Type == "" || string(r.typ) == f.Type) &&
		(f.Actor == "" || string(r.actor) == f.Actor) &&
		(f.Target == "" || string(r.target) == f.Target) &&
		(f.Outcome == "" || string(r.outcome) == f.Outcome) &&
		(f.Since.IsZero() || (r.time != zeroTime && r.time >= f.Since.UnixMicro())) &&
		(f.Until.IsZero() || (r.time != zeroTime && r.time < f.Until.UnixMicro()))
}

// scanBundles runs query, which selects first_idx, last_idx, leaf_hashes
// and events of bundles, and passes their events that keep accepts (all
// when keep is nil), with leaf hashes, to fn in order until fn returns
// false. It returns the number of bundles read and the last_idx of the
// last one. The event's Body and LeafHash alias the row's buffers.
func (q queries) scanBundles(ctx context.Context, query string, args []any, keep func(r *rawEvent) bool, fn func(ev *Event) bool) (n int, last int64, err error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	more := true
	for more && rows.Next() {
		var first int64
		var hashes, data []byte
		if err := rows.Scan(&first, &last, bytesCol{&hashes}, &data); err != nil {
			return n, last, err
		}
		n++
		count := last - first + 1
		if count < 1 || (len(hashes) != 0 && int64(len(hashes)) != count*leafHashSize) {
			return n, last, fmt.Errorf("%w: bundle %d–%d has %d bytes of leaf hashes", errBundle, first, last, len(hashes))
		}
		err := scanEvents(first, last, data, keep, func(ev *Event) bool {
			if len(hashes) != 0 {
				off := (ev.Index - first) * leafHashSize
				ev.LeafHash = hashes[off : off+leafHashSize : off+leafHashSize]
			}
			more = fn(ev)
			return more
		})
		if err != nil {
			return n, last, fmt.Errorf("bundle %d–%d: %w", first, last, err)
		}
	}
	return n, last, rows.Err()
}

// cloneBytes returns a copy of b, nil when b is empty.
func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
