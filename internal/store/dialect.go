package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is the SQL flavour of a back end. Queries are written once with
// ? placeholders; rebind adapts them.
type dialect int

const (
	sqliteDialect dialect = iota + 1
	postgresDialect
)

// String returns the back end's name as [Store.Backend] reports it.
func (d dialect) String() string {
	switch d {
	case sqliteDialect:
		return "sqlite"
	case postgresDialect:
		return "postgres"
	}
	return "dialect(" + strconv.Itoa(int(d)) + ")"
}

// rebind rewrites the ? placeholders of query into PostgreSQL's $1..$n.
// Queries in this package never hold a ? inside a literal or identifier,
// so no quoting is understood.
func (d dialect) rebind(query string) string {
	if d != postgresDialect || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// sqlitePragmas are appended to every SQLite DSN: wait for locks rather
// than fail at once, write-ahead logging so readers never block the
// writer, enforced foreign keys, and BEGIN IMMEDIATE so a transaction
// takes the write lock up front and never fails later upgrading to it.
// Pages stay at SQLite's default of 4 KiB: ledger appends measured the
// same with 8, 16 and 32 KiB pages (BENCHMARKS.md, issue #3). (The
// driver runs _pragma entries in alphabetical order, so a page_size
// pragma would come after journal_mode(WAL) and be ignored; the
// _journal_mode key would be needed instead.)
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// parseURL picks the back end for url and returns its dialect, the
// database/sql driver name and the DSN to open.
func parseURL(url string) (d dialect, driverName, dsn string, err error) {
	if url == "" {
		return 0, "", "", errors.New("store: Config.URL is required")
	}
	lower := strings.ToLower(url)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return postgresDialect, "pgx", url, nil
	}
	path, query, _ := strings.Cut(strings.TrimPrefix(url, "sqlite:"), "?")
	if rest, ok := strings.CutPrefix(path, "//"); ok {
		path = rest // "sqlite:///abs/file.db" or "sqlite://rel/file.db"
	}
	if path == "" {
		return 0, "", "", fmt.Errorf("store: %q names no SQLite file", url)
	}
	if path == ":memory:" {
		// Every pooled connection would get a database of its own.
		return 0, "", "", errors.New("store: in-memory SQLite is not supported; use a file in a temporary folder")
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, "", "", fmt.Errorf("store: SQLite folder: %w", err)
	}
	if !fi.IsDir() {
		return 0, "", "", fmt.Errorf("store: SQLite folder %q is not a directory", dir)
	}
	dsn = path + "?" + sqlitePragmas
	if query != "" {
		dsn += "&" + query
	}
	return sqliteDialect, "sqlite", dsn, nil
}

// isBusy reports whether err is SQLite's "database is locked", which a
// connection can meet outside the busy timeout's reach: switching a file
// that another process is still creating to WAL mode, for one.
func isBusy(err error) bool {
	var liteErr *sqlite.Error
	return errors.As(err, &liteErr) && liteErr.Code()&0xff == sqlite3.SQLITE_BUSY
}

// isUniqueViolation reports whether err is a unique or primary key
// constraint violation from either back end.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" // unique_violation
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
	}
	return false
}
