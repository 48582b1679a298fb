package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PolicySet is one revision of the policy set. Package policy owns its
// contents; the store keeps each revision as written and never changes
// it.
type PolicySet struct {
	// Revision numbers the set: 1 for the first, one more for each later
	// one, with no gaps.
	Revision int64
	// Documents is the set's documents, as encoded by package policy.
	Documents []byte
	// Actor is who wrote the revision; Summary says what it changed.
	Actor   string
	Summary string
	// CreatedAt is when the revision was written.
	CreatedAt time.Time
}

// PutPolicySet stores ps as a new revision. ps.Revision must be one more
// than the latest revision (1 for the first): writers read the latest,
// build the next and put it, and a writer that lost a race gets
// [ErrConflict] and starts over.
func (q queries) PutPolicySet(ctx context.Context, ps *PolicySet) error {
	if ps == nil {
		return errors.New("store: put policy set: nil policy set")
	}
	err := q.atomic(ctx, func(q queries) error {
		var latest int64
		if err := q.queryRow(ctx, `SELECT coalesce(max(revision), 0) FROM policy_sets`).Scan(&latest); err != nil {
			return err
		}
		if ps.Revision != latest+1 {
			return fmt.Errorf("revision %d does not follow the latest, %d: %w", ps.Revision, latest, ErrConflict)
		}
		ok, err := q.execOne(ctx, `INSERT INTO policy_sets (revision, documents, actor, summary, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (revision) DO NOTHING`,
			ps.Revision, bytesArg(ps.Documents), ps.Actor, ps.Summary, timeArg(ps.CreatedAt))
		if err == nil && !ok {
			err = fmt.Errorf("revision %d was written meanwhile: %w", ps.Revision, ErrConflict)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: put policy set %d: %w", ps.Revision, err)
	}
	return nil
}

// GetPolicySet returns the policy set at revision, or the latest when
// revision is 0. It returns [ErrNotFound] when there is no such revision
// (or none at all).
func (q queries) GetPolicySet(ctx context.Context, revision int64) (PolicySet, error) {
	query := `SELECT revision, documents, actor, summary, created_at FROM policy_sets WHERE revision = ?`
	args := []any{revision}
	if revision == 0 {
		query, args = `SELECT revision, documents, actor, summary, created_at FROM policy_sets ORDER BY revision DESC LIMIT 1`, nil
	}
	var ps PolicySet
	err := q.queryRow(ctx, query, args...).Scan(&ps.Revision, bytesCol{&ps.Documents}, &ps.Actor, &ps.Summary, timeCol{&ps.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return PolicySet{}, fmt.Errorf("store: get policy set %d: %w", revision, err)
	}
	return ps, nil
}

// PolicySetRevision returns the latest policy set revision, 0 when none
// was written.
func (q queries) PolicySetRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := q.queryRow(ctx, `SELECT coalesce(max(revision), 0) FROM policy_sets`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("store: policy set revision: %w", err)
	}
	return rev, nil
}

// ListPolicySets returns the revisions before revision before (all when
// before is 0), newest first, at most limit of them (100 when zero, never
// more than 1000), without their documents.
func (q queries) ListPolicySets(ctx context.Context, before int64, limit int) ([]PolicySet, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := q.query(ctx, `SELECT revision, actor, summary, created_at FROM policy_sets
		WHERE revision < ? ORDER BY revision DESC LIMIT ?`, before, pageSize(limit))
	if err != nil {
		return nil, fmt.Errorf("store: list policy sets: %w", err)
	}
	defer rows.Close()
	var out []PolicySet
	for rows.Next() {
		var ps PolicySet
		if err := rows.Scan(&ps.Revision, &ps.Actor, &ps.Summary, timeCol{&ps.CreatedAt}); err != nil {
			return nil, fmt.Errorf("store: list policy sets: %w", err)
		}
		out = append(out, ps)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list policy sets: %w", err)
	}
	return out, nil
}
