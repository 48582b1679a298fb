package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		name    string
		dialect dialect
		in      string
		want    string
	}{
		{"sqlite keeps placeholders", sqliteDialect, "a = ? AND b = ?", "a = ? AND b = ?"},
		{"postgres numbers them", postgresDialect, "a = ? AND b = ? LIMIT ?", "a = $1 AND b = $2 LIMIT $3"},
		{"postgres without placeholders", postgresDialect, "SELECT 1", "SELECT 1"},
		{"ten or more", postgresDialect, strings.Repeat("?,", 10) + "?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.dialect.rebind(tc.in); got != tc.want {
				t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "kith.db")
	tests := []struct {
		name       string
		url        string
		wantDriver string
		wantDSN    string // prefix
		wantErr    bool
	}{
		{"postgres", "postgres://u@h/db", "pgx", "postgres://u@h/db", false},
		{"postgresql, any case", "PostgreSQL://u@h/db", "pgx", "PostgreSQL://u@h/db", false},
		{"sqlite path", db, "sqlite", db + "?_pragma=busy_timeout(5000)", false},
		{"sqlite: prefix", "sqlite:" + db, "sqlite", db + "?", false},
		{"sqlite:// prefix", "sqlite://" + db, "sqlite", db + "?", false},
		{"extra parameters kept", db + "?_pragma=synchronous(NORMAL)", "sqlite", db + "?", false},
		{"empty", "", "", "", true},
		{"no file", "sqlite:", "", "", true},
		{"in memory", "sqlite::memory:", "", "", true},
		{"missing folder", filepath.Join(dir, "nope", "kith.db"), "", "", true},
		{"folder is a file", filepath.Join(file, "kith.db"), "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, driverName, dsn, err := parseURL(tc.url)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseURL(%q) error = %v, want error %v", tc.url, err, tc.wantErr)
			}
			if driverName != tc.wantDriver || !strings.HasPrefix(dsn, tc.wantDSN) {
				t.Errorf("parseURL(%q) = %q, %q; want %q, %q...", tc.url, driverName, dsn, tc.wantDriver, tc.wantDSN)
			}
			if tc.name == "extra parameters kept" && !strings.HasSuffix(dsn, "&_pragma=synchronous(NORMAL)") {
				t.Errorf("DSN %q lost the caller's parameters", dsn)
			}
		})
	}
}
