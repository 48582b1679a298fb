package store

import (
	"context"
	"fmt"
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
		return q.insertEvents(ctx, []Event{row})
	})
	if err != nil {
		return fmt.Errorf("store: append event %s: %w", ev.Type, err)
	}
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
// Bundles are found through their keys (type, actor and target) and time
// range, then decoded and filtered, bundlePage at a time, until the page
// is full or the log ends.
func (q queries) ListEvents(ctx context.Context, f EventFilter) ([]Event, error) {
	limit := pageSize(f.Limit)
	var keys []string
	for _, k := range [...]struct{ kind, v string }{{keyActor, f.Actor}, {keyTarget, f.Target}, {keyType, f.Type}} {
		if k.v != "" {
			keys = append(keys, k.kind+k.v)
		}
	}
	// The first key drives the query; the others must be in the bundle too.
	var b strings.Builder
	var args []any
	if len(keys) == 0 {
		b.WriteString(`SELECT b.first_idx, b.last_idx, b.leaf_hashes, b.events FROM ledger_bundles b WHERE b.last_idx > ?`)
	} else {
		b.WriteString(`SELECT b.first_idx, b.last_idx, b.leaf_hashes, b.events FROM ledger_keys k0`)
		for i, k := range keys[1:] {
			fmt.Fprintf(&b, ` JOIN ledger_keys k%d ON k%[1]d.key = ? AND k%[1]d.last_idx = k0.last_idx`, i+1)
			args = append(args, k)
		}
		b.WriteString(` JOIN ledger_bundles b ON b.last_idx = k0.last_idx WHERE k0.key = ? AND k0.last_idx > ?`)
		args = append(args, keys[0])
	}
	afterArg := len(args)
	args = append(args, f.After)
	if !f.Since.IsZero() {
		b.WriteString(` AND b.max_time >= ?`)
		args = append(args, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		b.WriteString(` AND b.min_time < ?`)
		args = append(args, f.Until.UnixMicro())
	}
	fmt.Fprintf(&b, ` ORDER BY b.last_idx LIMIT %d`, bundlePage)
	query := b.String()

	var out []Event
	for len(out) < limit {
		n, last, err := q.scanBundles(ctx, query, args, func(ev *Event) bool {
			if ev.Index > f.After && f.matches(ev) {
				e := *ev
				e.Body, e.LeafHash = cloneBytes(ev.Body), cloneBytes(ev.LeafHash)
				out = append(out, e)
			}
			return len(out) < limit
		})
		if err != nil {
			return nil, fmt.Errorf("store: list events: %w", err)
		}
		if n < bundlePage {
			break
		}
		args[afterArg] = last
	}
	return out, nil
}

// matches reports whether ev passes f's conditions other than After.
// Times compare in whole microseconds, as stored.
func (f *EventFilter) matches(ev *Event) bool {
	return (f.Type == "" || ev.Type == f.Type) &&
		(f.Actor == "" || ev.Actor == f.Actor) &&
		(f.Target == "" || ev.Target == f.Target) &&
		(f.Outcome == "" || ev.Outcome == f.Outcome) &&
		(f.Since.IsZero() || (!ev.Time.IsZero() && ev.Time.UnixMicro() >= f.Since.UnixMicro())) &&
		(f.Until.IsZero() || (!ev.Time.IsZero() && ev.Time.UnixMicro() < f.Until.UnixMicro()))
}

// scanBundles runs query, which selects first_idx, last_idx, leaf_hashes
// and events of bundles, and passes their events, with leaf hashes, to fn
// in order until fn returns false. It returns the number of bundles read
// and the last_idx of the last one. The event's Body and LeafHash alias
// the row's buffers.
func (q queries) scanBundles(ctx context.Context, query string, args []any, fn func(ev *Event) bool) (n int, last int64, err error) {
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
		seen, overflow := int64(0), false
		err := scanEvents(first, data, func(ev *Event) bool {
			if ev.Index > last {
				overflow = true
				return false
			}
			if len(hashes) != 0 {
				off := (ev.Index - first) * leafHashSize
				ev.LeafHash = hashes[off : off+leafHashSize : off+leafHashSize]
			}
			seen++
			more = fn(ev)
			return more
		})
		if err != nil {
			return n, last, err
		}
		if overflow || (more && seen != count) {
			return n, last, fmt.Errorf("%w: bundle %d–%d holds %d events", errBundle, first, last, seen)
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
