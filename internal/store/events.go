package store

import (
	"context"
	"fmt"
)

// AppendEvent stores ev at the end of the event log and sets ev.Index to
// its position. It stores no leaf hash: package ledger appends with
// [Store.AppendLedger] instead, and adopts rows written here into its
// Merkle tree when it next appends. Indexes start at 0 and are contiguous: they come from a
// counter advanced in the same transaction as the insert, which also
// serialises concurrent appenders until they commit, so no index is ever
// skipped, repeated or seen before an earlier one.
func (q queries) AppendEvent(ctx context.Context, ev *Event) error {
	if ev == nil {
		return fmt.Errorf("store: append event: nil event")
	}
	var idx int64
	err := q.atomic(ctx, func(q queries) error {
		err := q.queryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'events' RETURNING value - 1`).Scan(&idx)
		if err != nil {
			return fmt.Errorf("next index: %w", err)
		}
		_, err = q.exec(ctx, `INSERT INTO events (idx, time, type, outcome, actor, target, body)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			idx, timeArg(ev.Time), ev.Type, ev.Outcome, ev.Actor, ev.Target, bytesArg(ev.Body))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: append event %s: %w", ev.Type, err)
	}
	ev.Index = idx
	return nil
}

// ListEvents returns the events matching f in Index order: those with an
// Index greater than f.After, at most f.Limit of them (100 when zero, never
// more than 1000). Type, Actor, Target and Outcome match exactly when set;
// Since and Until, when set, bound Time to the half-open range
// [Since, Until).
func (q queries) ListEvents(ctx context.Context, f EventFilter) ([]Event, error) {
	var w where
	w.add("idx > ?", f.After)
	w.addIf("type = ?", f.Type)
	w.addIf("actor = ?", f.Actor)
	w.addIf("target = ?", f.Target)
	w.addIf("outcome = ?", f.Outcome)
	if !f.Since.IsZero() {
		w.add("time >= ?", f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		w.add("time < ?", f.Until.UnixMicro())
	}
	rows, err := q.query(ctx, `SELECT idx, time, type, outcome, actor, target, body, leaf_hash FROM events`+
		w.String()+` ORDER BY idx LIMIT ?`, append(w.args, pageSize(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var ev Event
		if err := rows.Scan(&ev.Index, timeCol{&ev.Time}, &ev.Type, &ev.Outcome, &ev.Actor, &ev.Target,
			bytesCol{&ev.Body}, bytesCol{&ev.LeafHash}); err != nil {
			return nil, fmt.Errorf("store: list events: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	return out, nil
}
