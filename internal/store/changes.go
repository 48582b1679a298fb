package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Change feeds: what a consumer at some revision must learn to catch up.
//
// Entries carry the store-wide revision of their last write, so the
// entries changed after revision R are those with a greater revision. A
// deleted entry leaves a tombstone at the revision of its deletion, and an
// entry whose ParentID changes leaves one for its old parent, so that a
// consumer that follows one parent learns that the entry is gone. Both are
// written in the transaction of the change. Tombstones are pruned after a
// retention period (see [Store.PruneEntryTombstones]); a consumer whose
// revision is older than [Store.EntryTombstoneHorizon] may have missed
// some and must start over from the whole set.

// EntryTombstone says that an entry left a parent: it was deleted, or its
// ParentID changed, at Revision.
type EntryTombstone struct {
	EntryID string
	// ParentID is the parent the entry had; empty for none.
	ParentID string
	Revision int64
	// DeletedAt is when the tombstone was first seen by
	// PruneEntryTombstones; zero until then.
	DeletedAt time.Time
}

// ChangeFilter narrows ListEntryChanges and ListEntryTombstones.
type ChangeFilter struct {
	// After selects changes at a revision greater than After.
	After int64
	// UpTo, when not zero, selects changes at a revision of at most UpTo.
	UpTo int64
	// Parents, when not nil, selects changes of entries with one of these
	// ParentIDs; "" stands for entries without a parent. An empty non-nil
	// slice selects nothing.
	Parents []string
	// Limit caps the page size; zero means 100, and it is capped at 1000.
	Limit int
}

// where returns the conditions of f.
func (f ChangeFilter) where() (where, bool) {
	var w where
	w.add("revision > ?", f.After)
	if f.UpTo != 0 {
		w.add("revision <= ?", f.UpTo)
	}
	if f.Parents != nil {
		if len(f.Parents) == 0 {
			return w, false
		}
		w.conds = append(w.conds, "parent_id IN (?"+strings.Repeat(", ?", len(f.Parents)-1)+")")
		for _, p := range f.Parents {
			w.args = append(w.args, p)
		}
	}
	return w, true
}

// ListEntryChanges returns one page of the entries written (created or
// updated) at a revision selected by f, in revision order. Pass the
// Revision of the last entry as the next page's After. An empty page means
// there are no more.
func (q queries) ListEntryChanges(ctx context.Context, f ChangeFilter) ([]Entry, error) {
	w, ok := f.where()
	if !ok {
		return nil, nil
	}
	rows, err := q.query(ctx, `SELECT `+entryColumns+` FROM entries`+w.String()+` ORDER BY revision LIMIT ?`,
		append(w.args, pageSize(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("store: list entry changes: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list entry changes: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list entry changes: %w", err)
	}
	return out, nil
}

// ListEntryTombstones returns one page of the tombstones at a revision
// selected by f, in revision order. An empty page means there are no
// more.
func (q queries) ListEntryTombstones(ctx context.Context, f ChangeFilter) ([]EntryTombstone, error) {
	w, ok := f.where()
	if !ok {
		return nil, nil
	}
	rows, err := q.query(ctx, `SELECT id, parent_id, revision, deleted_at FROM entry_tombstones`+w.String()+
		` ORDER BY revision LIMIT ?`, append(w.args, pageSize(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("store: list entry tombstones: %w", err)
	}
	defer rows.Close()
	var out []EntryTombstone
	for rows.Next() {
		var t EntryTombstone
		if err := rows.Scan(&t.EntryID, &t.ParentID, &t.Revision, timeCol{&t.DeletedAt}); err != nil {
			return nil, fmt.Errorf("store: list entry tombstones: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list entry tombstones: %w", err)
	}
	return out, nil
}

// EntryTombstoneHorizon returns the revision of the newest tombstone
// pruned so far, 0 if none was: a consumer at an older revision may have
// missed deletions.
func (q queries) EntryTombstoneHorizon(ctx context.Context) (int64, error) {
	var rev int64
	if err := q.queryRow(ctx, `SELECT value FROM counters WHERE name = 'tombstones_pruned'`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("store: read tombstone horizon: %w", err)
	}
	return rev, nil
}

// PruneEntryTombstones stamps the tombstones not stamped yet with now, then
// deletes those stamped before before, advances the horizon past them, and
// returns how many it deleted. Stamping here rather than at deletion keeps
// the store free of clocks: a tombstone lives at least from its first
// prune pass until before catches up with that pass.
func (q queries) PruneEntryTombstones(ctx context.Context, now, before time.Time) (int64, error) {
	var n int64
	err := q.atomic(ctx, func(q queries) error {
		if _, err := q.exec(ctx, `UPDATE entry_tombstones SET deleted_at = ? WHERE deleted_at IS NULL`, now.UnixMicro()); err != nil {
			return err
		}
		var newest int64
		if err := q.queryRow(ctx, `SELECT COALESCE(MAX(revision), 0) FROM entry_tombstones WHERE deleted_at < ?`,
			before.UnixMicro()).Scan(&newest); err != nil {
			return err
		}
		if newest == 0 {
			return nil
		}
		// Tombstones are deleted in revision order, so the horizon is one
		// number: nothing at or below it is left.
		res, err := q.exec(ctx, `DELETE FROM entry_tombstones WHERE revision <= ?`, newest)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = q.exec(ctx, `UPDATE counters SET value = ? WHERE name = 'tombstones_pruned' AND value < ?`, newest, newest)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune entry tombstones: %w", err)
	}
	return n, nil
}

// RevocationRevision returns the revision of the latest revocation
// written: 0 for a new store, then one more for every PutRevocation.
func (q queries) RevocationRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := q.queryRow(ctx, `SELECT value FROM counters WHERE name = 'revocations'`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("store: read revocation revision: %w", err)
	}
	return rev, nil
}
