//go:build unix

package store_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/kith-dev/kith/internal/store"
)

// TestSQLiteFilesPrivate: a new SQLite database and its write-ahead log
// and shared-memory files are private to their user (0600) even under a
// permissive umask, so that a folder others can enter does not expose
// them.
func TestSQLiteFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kith.db")
	s, err := store.Open(t.Context(), store.Config{URL: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AppendEvent(t.Context(), &store.Event{Type: "x"}); err != nil { // the WAL exists once written
		t.Fatal(err)
	}
	for _, name := range []string{"kith.db", "kith.db-wal", "kith.db-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", name, perm)
		}
	}
}
