package store

import "context"

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
