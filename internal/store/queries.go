package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries holds the data methods shared by [Store] and [Tx]. Exactly one
// of db and tx is set. stmts, if set, caches prepared statements of the
// store's database.
type queries struct {
	d     dialect
	db    *sql.DB
	tx    *sql.Tx
	stmts *stmtCache
	memo  *segmentMemo // nil in migrations
}

func (q queries) conn() querier {
	if q.tx != nil {
		return q.tx
	}
	return q.db
}

func (q queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.conn().ExecContext(ctx, q.d.rebind(query), args...)
}

func (q queries) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.conn().QueryContext(ctx, q.d.rebind(query), args...)
}

func (q queries) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return q.conn().QueryRowContext(ctx, q.d.rebind(query), args...)
}

// execOne runs a write meant to touch one row and reports whether it did.
func (q queries) execOne(ctx context.Context, query string, args ...any) (bool, error) {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

// savepoint names the savepoint atomic takes inside a Tx. Savepoints are
// never nested: data methods do not call each other through atomic.
const savepoint = "kith_write"

// atomic runs fn so that its statements take effect together or not at
// all: in a new transaction on a Store, under a savepoint on a Tx. When fn
// fails inside a Tx, the savepoint is rolled back, which also clears
// PostgreSQL's aborted state, so the Tx stays usable. fn's error is
// returned unchanged.
func (q queries) atomic(ctx context.Context, fn func(q queries) error) error {
	if q.tx == nil {
		return runTx(ctx, q, fn)
	}
	if _, err := q.tx.ExecContext(ctx, "SAVEPOINT "+savepoint); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(q); err != nil {
		if _, rbErr := q.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+savepoint); rbErr != nil {
			return fmt.Errorf("%w (and rolling back to savepoint: %v)", err, rbErr)
		}
		// Releasing after a rollback can only fail if the connection is
		// gone, which the next statement reports.
		_, _ = q.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+savepoint)
		return err
	}
	if _, err := q.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+savepoint); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// where collects the conditions of a list query and their arguments.
type where struct {
	conds []string
	args  []any
}

// add appends cond with its argument.
func (w *where) add(cond string, arg any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, arg)
}

// addIf appends cond when arg is not the zero string.
func (w *where) addIf(cond, arg string) {
	if arg != "" {
		w.add(cond, arg)
	}
}

// String returns the WHERE clause, with a leading space, or "".
func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// Page sizes of list methods.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// pageSize returns the effective page size for a requested limit.
func pageSize(limit int) int {
	switch {
	case limit <= 0:
		return defaultLimit
	case limit > maxLimit:
		return maxLimit
	}
	return limit
}
