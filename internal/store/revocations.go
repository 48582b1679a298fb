package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Revocation is a stored entry of the revocation set. Package revocation
// owns its meaning; the store keeps one row per (Kind, Value).
type Revocation struct {
	Kind      string
	Value     string
	RevokedAt time.Time
	ExpiresAt time.Time // zero: never
	Reason    string
	// Revision is set by the store from its own revocation counter, which
	// is separate from the entries' revision: 1 for the first revocation
	// written, then one more for every write.
	Revision int64
}

// RevocationFilter narrows ListRevocations.
type RevocationFilter struct {
	// After selects revocations written at a revision greater than After;
	// 0 for all.
	After int64
	// Limit caps the page size; zero means 100, and it is capped at 1000.
	Limit int
}

// PutRevocation stores r, or widens the stored revocation with the same
// Kind and Value: RevokedAt becomes the later of the two, ExpiresAt the
// later of the two (zero, never, wins), and Reason is replaced. Either way
// the row gets a new revision. On return r holds the stored values and
// its Revision. Writers hold the revocation counter until they commit, so
// revisions become visible in order.
func (q queries) PutRevocation(ctx context.Context, r *Revocation) error {
	if r == nil {
		return errors.New("store: put revocation: nil revocation")
	}
	var rev int64
	var revokedAt, expiresAt time.Time
	err := q.atomic(ctx, func(q queries) error {
		err := q.queryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'revocations' RETURNING value`).Scan(&rev)
		if err != nil {
			return fmt.Errorf("bump revision: %w", err)
		}
		return q.queryRow(ctx, `INSERT INTO revocations (kind, value, revoked_at, expires_at, reason, revision)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, value) DO UPDATE SET
				revoked_at = CASE WHEN revocations.revoked_at IS NULL OR excluded.revoked_at > revocations.revoked_at
					THEN excluded.revoked_at ELSE revocations.revoked_at END,
				expires_at = CASE WHEN revocations.expires_at IS NULL OR excluded.expires_at IS NULL THEN NULL
					WHEN excluded.expires_at > revocations.expires_at THEN excluded.expires_at
					ELSE revocations.expires_at END,
				reason = excluded.reason,
				revision = excluded.revision
			RETURNING revoked_at, expires_at`,
			r.Kind, r.Value, timeArg(r.RevokedAt), timeArg(r.ExpiresAt), r.Reason, rev).
			Scan(timeCol{&revokedAt}, timeCol{&expiresAt})
	})
	if err != nil {
		return fmt.Errorf("store: put revocation %s %q: %w", r.Kind, r.Value, err)
	}
	r.RevokedAt, r.ExpiresAt, r.Revision = revokedAt, expiresAt, rev
	return nil
}

// LiftRevocation narrows the stored revocation of kind and value if its
// cut-off lies after at: its RevokedAt becomes at and its ExpiresAt
// expiresAt (zero: never), at a new revision, and LiftRevocation reports
// true. This is how a hold — a revocation whose cut-off lies far ahead,
// covering every credential issued until it is lifted — ends. A stored
// revocation whose cut-off is at or before at, or none, is left alone,
// and no revision is used. It returns an error only if the database
// fails.
func (q queries) LiftRevocation(ctx context.Context, kind, value string, at, expiresAt time.Time) (bool, error) {
	var lifted bool
	err := q.atomic(ctx, func(q queries) error {
		// Take the counter first, as PutRevocation does, so that the two
		// lock in the same order.
		var rev int64
		err := q.queryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'revocations' RETURNING value`).Scan(&rev)
		if err != nil {
			return fmt.Errorf("bump revision: %w", err)
		}
		if lifted, err = q.execOne(ctx, `UPDATE revocations SET revoked_at = ?, expires_at = ?, revision = ?
			WHERE kind = ? AND value = ? AND revoked_at > ?`,
			timeArg(at), timeArg(expiresAt), rev, kind, value, timeArg(at)); err != nil {
			return err
		}
		if !lifted {
			// Nothing to lift: give the revision back while we hold it.
			_, err = q.exec(ctx, `UPDATE counters SET value = value - 1 WHERE name = 'revocations'`)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: lift revocation %s %q: %w", kind, value, err)
	}
	return lifted, nil
}

// ListRevocations returns the revocations written at a revision after
// f.After, in revision order, at most f.Limit of them (100 when zero, never
// more than 1000). An empty page means there are no more.
func (q queries) ListRevocations(ctx context.Context, f RevocationFilter) ([]Revocation, error) {
	rows, err := q.query(ctx, `SELECT kind, value, revoked_at, expires_at, reason, revision FROM revocations
		WHERE revision > ? ORDER BY revision LIMIT ?`, f.After, pageSize(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("store: list revocations: %w", err)
	}
	defer rows.Close()
	var out []Revocation
	for rows.Next() {
		var r Revocation
		if err := rows.Scan(&r.Kind, &r.Value, timeCol{&r.RevokedAt}, timeCol{&r.ExpiresAt}, &r.Reason, &r.Revision); err != nil {
			return nil, fmt.Errorf("store: list revocations: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list revocations: %w", err)
	}
	return out, nil
}

// DeleteExpiredRevocations removes the revocations whose ExpiresAt is set
// and before t, and returns how many it removed.
func (q queries) DeleteExpiredRevocations(ctx context.Context, t time.Time) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM revocations WHERE expires_at IS NOT NULL AND expires_at < ?`, t.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: delete expired revocations: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete expired revocations: %w", err)
	}
	return n, nil
}
