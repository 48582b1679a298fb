package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache holds the prepared statements of a store's hot paths (the
// ledger's appends), keyed by their text, so that SQLite and PostgreSQL
// parse and plan them once per connection rather than once per call.
// database/sql prepares a cached statement again on each connection the
// first time it runs there.
type stmtCache struct {
	db *sql.DB

	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
}

// errCacheClosed is returned by a stmtCache used after its store closed.
var errCacheClosed = errors.New("store is closed")

// get returns the prepared statement for query, preparing it if needed.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errCacheClosed
	}
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = map[string]*sql.Stmt{}
	}
	c.stmts[query] = st
	return st, nil
}

// close closes the cached statements; later gets fail.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts, c.closed = nil, true
}

// execCached runs query as exec does, from a cached prepared statement if
// q has a cache. Use it for statements whose text is one of few.
func (q queries) execCached(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := q.cached(ctx, query)
	if err != nil || st == nil {
		if err == nil {
			return q.exec(ctx, query, args...)
		}
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// queryRowCached runs query as queryRow does, from a cached prepared
// statement if q has a cache.
func (q queries) queryRowCached(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := q.cached(ctx, query)
	if err != nil || st == nil {
		// A failed prepare shows again, as the error of Scan.
		return q.queryRow(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// queryCached runs query as query does, from a cached prepared statement
// if q has a cache.
func (q queries) queryCached(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := q.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return q.query(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// cached returns the statement for query bound to q's transaction, or nil
// if q has no cache.
func (q queries) cached(ctx context.Context, query string) (*sql.Stmt, error) {
	if q.stmts == nil {
		return nil, nil
	}
	st, err := q.stmts.get(ctx, q.d.rebind(query))
	if err != nil {
		return nil, err
	}
	if q.tx != nil {
		st = q.tx.StmtContext(ctx, st)
	}
	return st, nil
}

// execOneCached is execOne with a cached statement.
func (q queries) execOneCached(ctx context.Context, query string, args ...any) (bool, error) {
	res, err := q.execCached(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n > 0, nil
}
