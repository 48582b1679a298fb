package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// fakeProcRoot returns a /proc look-alike in which process 1's exe links to
// a file of content first, and the path of that file.
func fakeProcRoot(t *testing.T, first []byte) (root, exe string) {
	t.Helper()
	root = t.TempDir()
	exe = filepath.Join(t.TempDir(), "workload")
	if err := os.WriteFile(exe, first, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, filepath.Join(root, "1", "exe")); err != nil {
		t.Fatal(err)
	}
	return root, exe
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func ctimeOf(t *testing.T, path string) syscall.Timespec {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ctim
}

// overwriteKeepingMtime is the poisoning attack: it writes m over the file
// in place (same inode, same size) and sets its modification time back to
// what it was, as the file's owner may.
func overwriteKeepingMtime(t *testing.T, path string, m []byte) {
	t.Helper()
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(m, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("the attack's preconditions do not hold: same file %v, size %d→%d, mtime %v→%v",
			os.SameFile(before, after), before.Size(), after.Size(), before.ModTime(), after.ModTime())
	}
}

// TestExeHashCachePoisoning runs the attack on the executable-hash cache:
// hash L, overwrite it in place with M of the same size, restore the
// modification time, hash again. The second digest must be M's, or M
// would be attested with L's unix:sha256 selector.
func TestExeHashCachePoisoning(t *testing.T) {
	l := bytes.Repeat([]byte("L"), 4096)
	m := bytes.Repeat([]byte("M"), 4096)

	t.Run("file just written", func(t *testing.T) {
		root, exe := fakeProcRoot(t, l)
		p := procFS{root: root, hashes: newHashCache()}
		if got, err := p.exeHash(1); err != nil || got != sha256Hex(l) {
			t.Fatalf("exeHash(L) = %q, %v; want %s", got, err, sha256Hex(l))
		}
		overwriteKeepingMtime(t, exe, m)
		if got, err := p.exeHash(1); err != nil || got != sha256Hex(m) {
			t.Fatalf("exeHash after overwriting L with M = %q, %v; want M's digest %s (L's is %s)",
				got, err, sha256Hex(m), sha256Hex(l))
		}
	})

	t.Run("file cached long ago", func(t *testing.T) {
		root, exe := fakeProcRoot(t, l)
		ctimeL := ctimeOf(t, exe)
		now := time.Now().Add(time.Hour) // the file is old by the cache's clock
		p := procFS{root: root, hashes: newHashCache()}
		p.hashes.now = func() time.Time { return now }
		if got, err := p.exeHash(1); err != nil || got != sha256Hex(l) {
			t.Fatalf("exeHash(L) = %q, %v", got, err)
		}
		fi, err := os.Stat(exe)
		if err != nil {
			t.Fatal(err)
		}
		if key, _ := keyOf(fi); !func() bool { _, ok := p.hashes.get(key); return ok }() {
			t.Fatal("L's digest is not reused; want it cached")
		}
		overwriteKeepingMtime(t, exe, m)
		// The kernel's file clock is coarse: wait for it to tick so that
		// the write shows in the change time, as it does for any write
		// made after the digest was cached.
		for ctimeOf(t, exe) == ctimeL {
			if err := os.Chtimes(exe, time.Time{}, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := p.exeHash(1); err != nil || got != sha256Hex(m) {
			t.Fatalf("exeHash after overwriting L with M = %q, %v; want M's digest %s (L's is %s)",
				got, err, sha256Hex(m), sha256Hex(l))
		}
	})
}
