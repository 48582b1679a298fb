//go:build unix

package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// openClose runs New on dir and closes the server again.
func openClose(t *testing.T, dir string) error {
	t.Helper()
	s, err := New(t.Context(), Config{TrustDomain: "example.org", ListenAddr: "127.0.0.1:0", DataDir: dir})
	if err == nil {
		s.close()
	}
	return err
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func chmod(t *testing.T, path string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, m); err != nil {
		t.Fatal(err)
	}
}

// TestDataDirPermissions: the data folder and its files end up private to
// the server's user; what others may have read or changed is refused with
// an error naming the path and the fix, and what they could not reach is
// tightened.
func TestDataDirPermissions(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask, whatever the test runner's
	defer syscall.Umask(old)
	// used is a data folder a server has run in, left with mode 0700.
	used := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "data")
		if err := openClose(t, dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("a folder made 0755 beforehand", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := openClose(t, dir); err != nil {
			t.Fatal(err)
		}
		if m := mode(t, dir); m != 0o700 {
			t.Errorf("folder mode %04o, want 0700", m)
		}
		names, _ := os.ReadDir(dir)
		for _, e := range names {
			if m := mode(t, filepath.Join(dir, e.Name())); m != 0o600 {
				t.Errorf("%s mode %04o, want 0600", e.Name(), m)
			}
		}
		for _, want := range []string{"kith.db", "kek", "admin.token"} {
			if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
				t.Errorf("%s: %v", want, err)
			}
		}
	})
	t.Run("files others could not reach are tightened", func(t *testing.T) {
		dir := used(t)
		for _, name := range []string{"kith.db", "server.json", "bundle.pem"} {
			chmod(t, filepath.Join(dir, name), 0o644) // as Kith before this check made them
		}
		if err := openClose(t, dir); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"kith.db", "server.json", "bundle.pem"} {
			if m := mode(t, filepath.Join(dir, name)); m != 0o600 {
				t.Errorf("%s mode %04o, want 0600", name, m)
			}
		}
	})
	refused := []struct {
		name     string
		change   func(t *testing.T, dir string)
		path     string // the path the error names, relative to the folder ("" for the folder)
		phrase   string
		fix      string
		dirAfter os.FileMode // the folder's mode is left alone
	}{
		{"database readable by others through the folder", func(t *testing.T, dir string) {
			chmod(t, filepath.Join(dir, "kith.db"), 0o644)
			chmod(t, dir, 0o755)
		}, "kith.db", "readable by group or others", "chmod 600", 0o755},
		{"admin token readable by the group", func(t *testing.T, dir string) {
			chmod(t, filepath.Join(dir, "admin.token"), 0o640)
			chmod(t, dir, 0o750)
		}, "admin.token", "readable by group or others", "chmod 600", 0o750},
		{"kek writable by others", func(t *testing.T, dir string) {
			chmod(t, filepath.Join(dir, "kek"), 0o606)
			chmod(t, dir, 0o711)
		}, "kek", "writable by group or others", "chmod 600", 0o711},
		{"folder writable by the group", func(t *testing.T, dir string) { chmod(t, dir, 0o770) },
			"", "writable by group or others", "chmod 700", 0o770},
		{"folder writable by everyone", func(t *testing.T, dir string) { chmod(t, dir, 0o777) },
			"", "writable by group or others", "chmod 700", 0o777},
		{"folder of another user", func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give the folder away")
			}
			if err := os.Chown(dir, 4242, -1); err != nil {
				t.Fatal(err)
			}
		}, "", "owned by user 4242", "chown", 0o700},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			dir := used(t)
			tc.change(t, dir)
			err := openClose(t, dir)
			var de *DataDirError
			if !errors.As(err, &de) {
				t.Fatalf("New: %v, want a *DataDirError", err)
			}
			if want := filepath.Join(dir, tc.path); de.Path != want || !strings.Contains(err.Error(), tc.phrase) ||
				!strings.Contains(err.Error(), tc.fix) || !strings.Contains(err.Error(), want) {
				t.Errorf("error %q (path %q), want one naming %s, %q and %q", err, de.Path, want, tc.phrase, tc.fix)
			}
			if m := mode(t, dir); m != tc.dirAfter {
				t.Errorf("the refused folder's mode changed to %04o", m)
			}
		})
	}
	t.Run("store elsewhere readable by others", func(t *testing.T) {
		dir := used(t)
		db := filepath.Join(t.TempDir(), "other.db")
		if err := os.WriteFile(db, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := New(t.Context(), Config{TrustDomain: "example.org", ListenAddr: "127.0.0.1:0", DataDir: dir, StoreURL: "sqlite:" + db})
		var de *DataDirError
		if !errors.As(err, &de) || de.Path != db {
			t.Errorf("New: %v, want a *DataDirError for %s", err, db)
		}
	})
}
