package store_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t testing.TB) *store.Store {
		return open(t, sqliteURL(t), nil)
	})
}

func TestPostgres(t *testing.T) {
	base := postgresBase(t)
	storetest.Run(t, func(t testing.TB) *store.Store {
		return open(t, postgresSchema(t, base), nil)
	})
}

// backends lists the back ends; url returns the URL of a fresh, empty
// database of that kind, skipping t if there is none.
var backends = []struct {
	name string
	url  func(t testing.TB) string
}{
	{"sqlite", sqliteURL},
	{"postgres", func(t testing.TB) string { return postgresSchema(t, postgresBase(t)) }},
}

func sqliteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "kith.db")
}

// postgresBase and postgresSchema are storetest's, named as the tests
// here have always called them.
var (
	postgresBase   = storetest.PostgresBase
	postgresSchema = storetest.PostgresSchema
)

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// open opens the store at url and closes it when t ends.
func open(t testing.TB, url string, logger *slog.Logger) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), store.Config{URL: url, Logger: logger})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migrationLog is a logger that keeps what it is given, for counting the
// migrations Open applied. Its handler serialises writes.
type migrationLog struct {
	buf    bytes.Buffer
	logger *slog.Logger
}

func newMigrationLog() *migrationLog {
	l := &migrationLog{}
	l.logger = slog.New(slog.NewTextHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug})) // migrations log at debug
	return l
}

// applied returns how many migrations were logged as applied.
func (l *migrationLog) applied() int {
	return strings.Count(l.buf.String(), "applied migration")
}

// allVersions returns 1..store.LatestMigration.
func allVersions() []int64 {
	var vs []int64
	for v := int64(1); v <= store.LatestMigration; v++ {
		vs = append(vs, v)
	}
	return vs
}

func checkMigrations(t testing.TB, s *store.Store) {
	t.Helper()
	got, err := s.AppliedMigrations(t.Context())
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if d := cmp.Diff(allVersions(), got); d != "" {
		t.Errorf("schema_migrations mismatch (-want +got):\n%s", d)
	}
}

func TestReopen(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			url := be.url(t)
			log1 := newMigrationLog()
			s, err := store.Open(t.Context(), store.Config{URL: url, Logger: log1.logger})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got, want := log1.applied(), len(allVersions()); got != want {
				t.Errorf("first Open applied %d migrations, want %d", got, want)
			}
			e := store.Entry{ID: "kept", SPIFFEID: "spiffe://example.org/kept"}
			if err := s.CreateEntry(t.Context(), &e); err != nil {
				t.Fatalf("CreateEntry: %v", err)
			}
			if err := s.AppendEvent(t.Context(), &store.Event{Type: "first"}); err != nil {
				t.Fatalf("AppendEvent: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			log2 := newMigrationLog()
			s = open(t, url, log2.logger)
			if n := log2.applied(); n != 0 {
				t.Errorf("second Open applied %d migrations, want 0:\n%s", n, log2.buf.String())
			}
			checkMigrations(t, s)
			if _, err := s.GetEntry(t.Context(), "kept"); err != nil {
				t.Errorf("GetEntry after reopen: %v", err)
			}
			if rev, err := s.Revision(t.Context()); err != nil || rev != 1 {
				t.Errorf("Revision after reopen = %d, %v; want 1", rev, err)
			}
			ev := store.Event{Type: "second"}
			if err := s.AppendEvent(t.Context(), &ev); err != nil || ev.Index != 1 {
				t.Errorf("AppendEvent after reopen: Index %d, %v; want 1", ev.Index, err)
			}
		})
	}
}

func TestConcurrentOpen(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			url := be.url(t)
			log := newMigrationLog()
			const openers = 4
			stores := make([]*store.Store, openers)
			errs := make([]error, openers)
			var wg sync.WaitGroup
			for i := range openers {
				wg.Go(func() {
					stores[i], errs[i] = store.Open(t.Context(), store.Config{URL: url, Logger: log.logger})
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Open %d: %v", i, err)
					continue
				}
				t.Cleanup(func() { stores[i].Close() })
			}
			if t.Failed() {
				t.FailNow()
			}
			// Each migration ran exactly once, whichever opener ran it.
			if got, want := log.applied(), len(allVersions()); got != want {
				t.Errorf("%d openers applied %d migrations in all, want %d:\n%s", openers, got, want, log.buf.String())
			}
			checkMigrations(t, stores[0])
			if err := stores[1].AppendEvent(t.Context(), &store.Event{Type: "ok"}); err != nil {
				t.Errorf("AppendEvent: %v", err)
			}
		})
	}
}

func TestOpenNewerSchema(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			url := be.url(t)
			s := open(t, url, nil)
			err := s.ExecForTest(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				store.LatestMigration+1, "from the future", 0)
			if err != nil {
				t.Fatalf("insert migration: %v", err)
			}
			s.Close()
			s, err = store.Open(t.Context(), store.Config{URL: url})
			if err == nil {
				s.Close()
				t.Fatal("Open of a database migrated by a newer binary succeeded")
			}
			if !strings.Contains(err.Error(), "newer") {
				t.Errorf("Open error = %v, want one saying the schema is newer", err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		url  string
	}{
		{"empty URL", ""},
		{"missing SQLite folder", filepath.Join(dir, "missing", "kith.db")},
		{"not a SQLite database", notADatabase(t)},
		{"unreachable PostgreSQL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), store.Config{URL: tc.url})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.url)
			}
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
				t.Errorf("Open error %v wraps a data sentinel", err)
			}
		})
	}
}

// notADatabase returns the path of a file that is not a SQLite database.
func notADatabase(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func BenchmarkCreateEntry(b *testing.B) {
	s := open(b, sqliteURL(b), nil)
	n := 0
	for b.Loop() {
		n++
		e := store.Entry{
			ID:        fmt.Sprintf("e%09d", n),
			SPIFFEID:  fmt.Sprintf("spiffe://example.org/w%d", n),
			ParentID:  "spiffe://example.org/agent/node-1",
			Selectors: []string{"k8s:ns:bench", fmt.Sprintf("k8s:sa:%d", n)},
			Labels:    map[string]string{"env": "bench"},
		}
		if err := s.CreateEntry(b.Context(), &e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	s := open(b, sqliteURL(b), nil)
	body := bytes.Repeat([]byte("x"), 256)
	for b.Loop() {
		ev := store.Event{Type: "bench", Actor: "spiffe://example.org/a", Target: "entry:1", Body: body}
		if err := s.AppendEvent(b.Context(), &ev); err != nil {
			b.Fatal(err)
		}
	}
}
