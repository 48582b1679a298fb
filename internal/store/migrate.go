package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// migration is one versioned change of the schema, in both dialects.
type migration struct {
	version  int64
	name     string
	sqlite   string
	postgres string
	// data, if set, runs after the statements in the same transaction,
	// for changes SQL alone cannot make.
	data func(ctx context.Context, q queries) error
}

// sql returns the migration's statements for d.
func (m migration) sql(d dialect) string {
	if d == postgresDialect {
		return m.postgres
	}
	return m.sqlite
}

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`

// migrationLock serialises migrations across replicas on PostgreSQL. It is
// transaction-scoped, so it is released by the commit or rollback of each
// migration's transaction, and keyed by the current schema, so stores in
// different schemas of one database do not wait for each other.
const migrationLock = `SELECT pg_advisory_xact_lock(1263818824, hashtext(coalesce(current_schema(), '')))`

// migrate applies the pending migrations to db, each in its own
// transaction, and records them in schema_migrations. It fails if the
// database holds a version this binary does not know. Each migration is
// logged at debug; an upgrade of a database that had some already is
// logged once at info (a new database's creation is not news).
func migrate(ctx context.Context, db *sql.DB, d dialect, logger *slog.Logger) error {
	latest := migrations[len(migrations)-1].version
	n := 0
	for _, m := range migrations {
		applied, err := applyMigration(ctx, db, d, m, latest)
		if err != nil {
			return fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
		}
		if applied {
			n++
			logger.LogAttrs(ctx, slog.LevelDebug, "store: applied migration",
				slog.String("backend", d.String()),
				slog.Int64("version", m.version),
				slog.String("name", m.name))
		}
	}
	if n > 0 && n < len(migrations) {
		logger.LogAttrs(ctx, slog.LevelInfo, "store: schema upgraded",
			slog.String("backend", d.String()), slog.Int("migrations", n), slog.Int64("version", latest))
	}
	return nil
}

// applyMigration runs m in one transaction unless schema_migrations says it
// ran already, and reports whether it ran.
func applyMigration(ctx context.Context, db *sql.DB, d dialect, m migration, latest int64) (applied bool, err error) {
	err = runTx(ctx, queries{d: d, db: db}, func(q queries) error {
		// On SQLite the transaction began IMMEDIATE and so already holds
		// the database's write lock.
		if d == postgresDialect {
			if _, err := q.exec(ctx, migrationLock); err != nil {
				return fmt.Errorf("take lock: %w", err)
			}
		}
		if _, err := q.exec(ctx, createSchemaMigrations); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var newest sql.NullInt64
		if err := q.queryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&newest); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if newest.Int64 > latest {
			return fmt.Errorf("database schema is at version %d, newer than this binary's %d", newest.Int64, latest)
		}
		var n int
		if err := q.queryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if n > 0 {
			return nil
		}
		if _, err := q.exec(ctx, m.sql(d)); err != nil {
			return err
		}
		if m.data != nil {
			if err := m.data(ctx, q); err != nil {
				return err
			}
		}
		if _, err := q.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		applied = true
		return nil
	})
	return applied && err == nil, err
}
