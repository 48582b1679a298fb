// Package store persists Kith's state in SQLite or PostgreSQL: workload
// entries and the store-wide change revision, versioned blobs, federation
// relationships, admin credentials, node agents with their join tokens and
// the SVIDs issued through them, entry tombstones for the agents' change
// stream, OAuth clients with their secret hashes and public keys, the
// revocation set, policy set revisions, and the ledger: its events, the
// hashes of its Merkle tree and its signed checkpoints.
//
// The store knows SQL, not policy. It keeps records as given; validating
// them is the job of the package that owns them (registry, ca, ledger, ...).
// Both back ends share one schema and one set of queries; the differences
// between the SQL dialects live only in the migrations, which [Open] runs
// before it returns.
//
// Conditions callers branch on are reported as [ErrNotFound] and
// [ErrConflict], wrapped with context; test for them with errors.Is.
//
// Conventions shared by every method:
//
//   - Times are kept as UTC with microsecond precision: a stored t reads
//     back equal to t.UTC().Truncate(time.Microsecond), in time.UTC. The
//     zero time reads back as the zero time.
//   - Empty slices, maps and byte slices read back as nil.
//   - Every write is atomic. On a [Store] a write that needs several
//     statements runs in its own transaction; on a [Tx] it runs under a
//     savepoint, so a method that fails leaves nothing behind and the Tx
//     stays usable on both back ends.
//
// [Store] and [Tx] have the same data methods; a Tx groups several of them
// into one transaction.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// ErrNotFound reports that the record a method was asked for does not
// exist.
var ErrNotFound = errors.New("not found")

// ErrConflict reports that a write clashes with what is stored: a record
// with the same key or the same unique identity already exists, or the
// revision or version the caller expected is no longer current.
var ErrConflict = errors.New("conflict")

// Config configures [Open].
type Config struct {
	// URL selects the back end. "postgres://..." or "postgresql://..." is a
	// PostgreSQL connection string (as understood by pgx; runtime
	// parameters such as search_path may be given in the query string).
	// Anything else is the path of a SQLite database file, optionally
	// prefixed "sqlite:"; the file is created if missing, but its folder
	// must exist. Required.
	URL string
	// Logger receives a line for each migration applied; nil discards.
	Logger *slog.Logger
}

// Store is a connection pool to a SQLite or PostgreSQL database holding
// Kith's state. It is safe for concurrent use. Its data methods (CreateEntry,
// AppendEvent, ...) each run on their own; use [Store.Tx] to group them.
type Store struct {
	queries
	logger *slog.Logger
	dsn    string // for connections of its own (Watch)
}

// Open connects to the database cfg.URL names, brings its schema up to date
// and returns the ready store.
//
// Migrations are versioned and recorded in the schema_migrations table;
// each pending one runs in its own transaction, and on PostgreSQL they are
// serialised across replicas with a transaction-scoped advisory lock, so
// several servers may call Open on the same database at once. Open fails
// if cfg.URL is empty, if the SQLite file's folder does not exist, if the
// database cannot be reached, if a migration fails, or if the database was
// migrated by a newer version of Kith than this one.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d, driverName, dsn, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if d == sqliteDialect {
		path, _, _ := strings.Cut(dsn, "?")
		if err := createPrivate(path); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", d, err)
	}
	if err := ping(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", d, err)
	}
	if err := migrate(ctx, db, d, logger); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{queries: queries{d: d, db: db, stmts: &stmtCache{db: db}, memo: &segmentMemo{}}, logger: logger, dsn: dsn}, nil
}

// createPrivate creates the SQLite file at path with mode 0600 if it does
// not exist, so that the database is private to its user whatever the
// umask; SQLite gives its write-ahead log and shared-memory files the
// database file's mode. An existing file is left as it is.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: create SQLite file: %w", err)
	}
	return f.Close()
}

// pingTimeout bounds how long ping retries a database that stays locked.
const pingTimeout = 5 * time.Second

// ping checks that db can be reached, retrying while SQLite reports the
// database locked (several processes opening one new file at once), as
// the busy timeout would if it applied there.
func ping(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(pingTimeout)
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		err := db.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return err
		}
	}
}

// Close closes the connection pool. Calls in flight may fail.
func (s *Store) Close() error {
	s.stmts.close()
	return s.db.Close()
}

// Backend returns "sqlite" or "postgres".
func (s *Store) Backend() string {
	return s.d.String()
}

// Ping checks that the database is reachable; it returns the driver's
// error if not.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Tx is a database transaction handed to the function given to
// [Store.Tx]. It has the same data methods as [Store]; their effects become
// visible to others only when the transaction commits.
//
// A Tx must not be used by several goroutines at once, nor after the
// function returns. While it is open, do not call the Store's own write
// methods from the function: on SQLite a Tx holds the database's write
// lock, and such a call waits for it until it times out. On PostgreSQL,
// write entries before appending events within one Tx, so that concurrent
// transactions take their locks in the same order.
type Tx struct {
	queries
}

// Tx runs fn in one transaction. If fn returns nil the transaction
// commits; otherwise it rolls back and Tx returns fn's error unchanged. If
// fn panics the transaction rolls back and the panic continues. Tx returns
// an error if the transaction cannot begin or commit.
func (s *Store) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	return runTx(ctx, s.queries, func(q queries) error {
		return fn(&Tx{queries: q})
	})
}

// runTx runs fn in a new transaction on base's database, committing if fn
// returns nil and rolling back otherwise. fn's error is returned
// unchanged.
func runTx(ctx context.Context, base queries, fn func(q queries) error) (err error) {
	tx, err := base.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin transaction: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// The error of a rollback after a failure is of no use to the
			// caller: the transaction is gone either way.
			_ = tx.Rollback()
		}
	}()
	if err := fn(queries{d: base.d, tx: tx, stmts: base.stmts, memo: base.memo}); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}
