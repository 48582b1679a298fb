package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

const entryColumns = `id, spiffe_id, parent_id, any_agent, selectors, owner, business_function, description,
	max_scopes, x509_svid_ttl, jwt_svid_ttl, labels, status, created_at, updated_at, revision`

// CreateEntry stores a new entry and sets e.Revision to the new store-wide
// revision it was written at. Other fields are stored as given.
//
// It returns [ErrConflict] if an entry with e.ID exists, or if another
// entry has the same SPIFFEID, ParentID and set of Selectors (their order
// and repetitions do not matter).
func (q queries) CreateEntry(ctx context.Context, e *Entry) error {
	if e == nil {
		return errors.New("store: create entry: nil entry")
	}
	v, err := entryValues(e)
	if err != nil {
		return fmt.Errorf("store: create entry %q: %w", e.ID, err)
	}
	var rev int64
	err = q.atomic(ctx, func(q queries) error {
		var err error
		if rev, err = q.bumpRevision(ctx); err != nil {
			return err
		}
		_, err = q.exec(ctx, `INSERT INTO entries (id, spiffe_id, parent_id, any_agent, selectors, selectors_key,
			owner, business_function, description, max_scopes, x509_svid_ttl, jwt_svid_ttl, labels,
			status, created_at, updated_at, revision)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.SPIFFEID, e.ParentID, boolArg(e.AnyAgent), v.selectors, v.selectorsKey,
			e.Owner, e.BusinessFunction, e.Description, v.maxScopes, int64(e.X509SVIDTTL), int64(e.JWTSVIDTTL), v.labels,
			e.Status, timeArg(e.CreatedAt), timeArg(e.UpdatedAt), rev)
		if isUniqueViolation(err) {
			return ErrConflict
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create entry %q: %w", e.ID, err)
	}
	e.Revision = rev
	return nil
}

// GetEntry returns the entry with the given ID, or [ErrNotFound].
func (q queries) GetEntry(ctx context.Context, id string) (Entry, error) {
	row := q.queryRow(ctx, `SELECT `+entryColumns+` FROM entries WHERE id = ?`, id)
	e, err := scanEntry(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("store: get entry %q: %w", id, err)
	}
	return e, nil
}

// LockEntry returns the entry with the given ID, or [ErrNotFound], as
// GetEntry does; in a [Tx] it also keeps the entry from changing until
// the transaction ends (on PostgreSQL a share lock on its row; SQLite
// transactions hold the whole database), so that what the transaction
// writes on the strength of the entry's state cannot race with a change
// of it.
func (q queries) LockEntry(ctx context.Context, id string) (Entry, error) {
	lock := ""
	if q.tx != nil && q.d == postgresDialect {
		lock = " FOR SHARE"
	}
	row := q.queryRow(ctx, `SELECT `+entryColumns+` FROM entries WHERE id = ?`+lock, id)
	e, err := scanEntry(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("store: lock entry %q: %w", id, err)
	}
	return e, nil
}

// ListEntries returns one page of the entries matching f, in ID order
// (bytewise): those with an ID after f.After, at most f.Limit of them (100
// when zero, never more than 1000). An empty page means there are no more.
func (q queries) ListEntries(ctx context.Context, f EntryFilter) ([]Entry, error) {
	var w where
	w.addIf("spiffe_id = ?", f.SPIFFEID)
	w.addIf("parent_id = ?", f.ParentID)
	w.addIf("status = ?", f.Status)
	if f.AnyAgent {
		w.add("any_agent = ?", boolArg(true))
	}
	w.addIf("id > ?", f.After)
	rows, err := q.query(ctx, `SELECT `+entryColumns+` FROM entries`+w.String()+` ORDER BY id LIMIT ?`,
		append(w.args, pageSize(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("store: list entries: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list entries: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list entries: %w", err)
	}
	return out, nil
}

// UpdateEntry replaces the stored entry with ID e.ID by e, all fields but
// CreatedAt, which keeps its stored value and is copied back into e. It is
// an optimistic write: e.Revision must be the revision the entry was last
// written at. On success e.Revision is set to the new store-wide revision.
//
// When ParentID changes, the update leaves a tombstone for the old parent
// at the new revision (see [Store.ListEntryTombstones]).
//
// It returns [ErrNotFound] if no entry has e.ID, and [ErrConflict] if the
// stored revision differs from e.Revision or if another entry has the same
// SPIFFEID, ParentID and set of Selectors.
func (q queries) UpdateEntry(ctx context.Context, e *Entry) error {
	if e == nil {
		return errors.New("store: update entry: nil entry")
	}
	v, err := entryValues(e)
	if err != nil {
		return fmt.Errorf("store: update entry %q: %w", e.ID, err)
	}
	var rev int64
	var created time.Time
	err = q.atomic(ctx, func(q queries) error {
		var err error
		if rev, err = q.bumpRevision(ctx); err != nil {
			return err
		}
		var oldParent string
		err = q.queryRow(ctx, `SELECT parent_id FROM entries WHERE id = ? AND revision = ?`, e.ID, e.Revision).Scan(&oldParent)
		if errors.Is(err, sql.ErrNoRows) {
			return q.whyNotUpdated(ctx, e)
		}
		if err != nil {
			return err
		}
		err = q.queryRow(ctx, `UPDATE entries SET spiffe_id = ?, parent_id = ?, any_agent = ?, selectors = ?, selectors_key = ?,
			owner = ?, business_function = ?, description = ?, max_scopes = ?, x509_svid_ttl = ?, jwt_svid_ttl = ?,
			labels = ?, status = ?, updated_at = ?, revision = ?
			WHERE id = ? AND revision = ?
			RETURNING created_at`,
			e.SPIFFEID, e.ParentID, boolArg(e.AnyAgent), v.selectors, v.selectorsKey,
			e.Owner, e.BusinessFunction, e.Description, v.maxScopes, int64(e.X509SVIDTTL), int64(e.JWTSVIDTTL),
			v.labels, e.Status, timeArg(e.UpdatedAt), rev,
			e.ID, e.Revision).Scan(timeCol{&created})
		switch {
		case isUniqueViolation(err):
			return ErrConflict
		case errors.Is(err, sql.ErrNoRows):
			return q.whyNotUpdated(ctx, e)
		case err != nil:
			return err
		}
		if oldParent != e.ParentID {
			return q.putTombstone(ctx, e.ID, oldParent, rev)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: update entry %q: %w", e.ID, err)
	}
	e.Revision = rev
	e.CreatedAt = created
	return nil
}

// whyNotUpdated explains an update of e that matched no row.
func (q queries) whyNotUpdated(ctx context.Context, e *Entry) error {
	var stored int64
	err := q.queryRow(ctx, `SELECT revision FROM entries WHERE id = ?`, e.ID).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("revision %d is not the stored %d: %w", e.Revision, stored, ErrConflict)
}

// DeleteEntry removes the entry with the given ID, bumping the store-wide
// revision, and leaves a tombstone at that revision (see
// [Store.ListEntryTombstones]). It returns [ErrNotFound] if there is none.
func (q queries) DeleteEntry(ctx context.Context, id string) error {
	err := q.atomic(ctx, func(q queries) error {
		// The revision is bumped first in every entry write, so concurrent
		// writers lock the counter before any entry row.
		rev, err := q.bumpRevision(ctx)
		if err != nil {
			return err
		}
		var parent string
		err = q.queryRow(ctx, `DELETE FROM entries WHERE id = ? RETURNING parent_id`, id).Scan(&parent)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return q.putTombstone(ctx, id, parent, rev)
	})
	if err != nil {
		return fmt.Errorf("store: delete entry %q: %w", id, err)
	}
	return nil
}

// Revision returns the current store-wide change revision: 0 for a new
// store, then one more for every entry written (created, updated or
// deleted). Writers hold the revision until they commit, so revisions
// become visible in order.
func (q queries) Revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := q.queryRow(ctx, `SELECT value FROM counters WHERE name = 'revision'`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("store: read revision: %w", err)
	}
	return rev, nil
}

// putTombstone records that entry id left parent at revision rev.
func (q queries) putTombstone(ctx context.Context, id, parent string, rev int64) error {
	_, err := q.exec(ctx, `INSERT INTO entry_tombstones (revision, id, parent_id, deleted_at) VALUES (?, ?, ?, NULL)`, rev, id, parent)
	if err != nil {
		return fmt.Errorf("tombstone: %w", err)
	}
	return nil
}

// bumpRevision advances the store-wide revision and returns the new one.
// On PostgreSQL it locks the counter row until the transaction ends.
func (q queries) bumpRevision(ctx context.Context) (int64, error) {
	var rev int64
	err := q.queryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'revision' RETURNING value`).Scan(&rev)
	if err != nil {
		return 0, fmt.Errorf("bump revision: %w", err)
	}
	return rev, nil
}

// entryEncoded holds the encoded columns of an entry.
type entryEncoded struct {
	selectors, selectorsKey, maxScopes, labels string
}

func entryValues(e *Entry) (entryEncoded, error) {
	var v entryEncoded
	var err error
	if v.selectors, err = stringsArg(e.Selectors); err != nil {
		return v, err
	}
	if v.maxScopes, err = stringsArg(e.MaxScopes); err != nil {
		return v, err
	}
	if v.labels, err = labelsArg(e.Labels); err != nil {
		return v, err
	}
	v.selectorsKey, err = selectorsKey(e.Selectors)
	return v, err
}

// selectorsKey returns the canonical key of a selector set: the hex
// SHA-256 of the JSON of its sorted distinct members. It has a fixed
// length, so the unique index holds for any number of selectors.
func selectorsKey(selectors []string) (string, error) {
	set := slices.Clone(selectors)
	slices.Sort(set)
	set = slices.Compact(set)
	if set == nil {
		set = []string{}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanEntry(s scanner) (Entry, error) {
	var e Entry
	var x509TTL, jwtTTL, anyAgent int64
	err := s.Scan(&e.ID, &e.SPIFFEID, &e.ParentID, &anyAgent, jsonCol[[]string]{&e.Selectors},
		&e.Owner, &e.BusinessFunction, &e.Description, jsonCol[[]string]{&e.MaxScopes},
		&x509TTL, &jwtTTL, jsonCol[map[string]string]{&e.Labels}, &e.Status,
		timeCol{&e.CreatedAt}, timeCol{&e.UpdatedAt}, &e.Revision)
	if err != nil {
		return Entry{}, err
	}
	e.X509SVIDTTL = time.Duration(x509TTL)
	e.JWTSVIDTTL = time.Duration(jwtTTL)
	e.AnyAgent = anyAgent != 0
	return e, nil
}
