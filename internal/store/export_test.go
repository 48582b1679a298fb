package store

import (
	"context"
	"database/sql"
)

// AppliedMigrations returns the versions recorded in schema_migrations, in
// order, for tests of the migration runner.
func (s *Store) AppliedMigrations(ctx context.Context) ([]int64, error) {
	rows, err := s.query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// LatestMigration is the version the schema reaches after Open.
var LatestMigration = migrations[len(migrations)-1].version

// ExecForTest runs a statement on the store's database.
func (s *Store) ExecForTest(ctx context.Context, query string, args ...any) error {
	_, err := s.exec(ctx, query, args...)
	return err
}

// MigrateForTest brings the database url names to schema version
// through (not further) and returns it with the function that rewrites
// "?" placeholders for its dialect, for tests of a later migration.
func MigrateForTest(ctx context.Context, url string, through int64) (*sql.DB, func(string) string, error) {
	d, driverName, dsn, err := parseURL(url)
	if err != nil {
		return nil, nil, err
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range migrations {
		if m.version > through {
			break
		}
		if _, err := applyMigration(ctx, db, d, m, through); err != nil {
			db.Close()
			return nil, nil, err
		}
	}
	return db, d.rebind, nil
}
