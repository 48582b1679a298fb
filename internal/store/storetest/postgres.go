package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
)

// PostgresEnv names the environment variable holding the PostgreSQL URL
// the tests use; tests that need PostgreSQL skip, saying so, when it is
// unset. .ci/run always sets it.
const PostgresEnv = "KITH_TEST_POSTGRES"

// PostgresBase returns the PostgreSQL URL from the environment, or skips t.
func PostgresBase(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("%s is unset; set it to a PostgreSQL URL such as "+
			"postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run the PostgreSQL tests", PostgresEnv)
	}
	return base
}

// PostgresSchema creates a schema with a random name in the database base
// points to, drops it when t ends, and returns base with search_path set
// to it.
func PostgresSchema(t testing.TB, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	var b [8]byte
	rand.Read(b[:])
	name := "kith_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+name); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		// t.Context is done by now.
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresURL returns the URL of a fresh schema in the database of
// PostgresEnv, dropped when t ends, or skips t.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return PostgresSchema(t, PostgresBase(t))
}
