package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// procReader reads what the attestor needs about a process from /proc.
type procReader interface {
	// startTime returns field 22 of /proc/<pid>/stat: when the process
	// started, in clock ticks since boot. With the pid it names one
	// process for the lifetime of the system.
	startTime(pid int32) (uint64, error)
	// exePath returns the absolute path of the process's executable.
	exePath(pid int32) (string, error)
	// exeHash returns the SHA-256 of the process's executable, in hex.
	exeHash(pid int32) (string, error)
}

// procFS is the procReader of the real /proc (or another root, in tests).
type procFS struct {
	root   string
	hashes *hashCache
}

func (p procFS) dir(pid int32) string { return filepath.Join(p.root, strconv.Itoa(int(pid))) }

func (p procFS) startTime(pid int32) (uint64, error) {
	data, err := os.ReadFile(filepath.Join(p.dir(pid), "stat"))
	if err != nil {
		return 0, err
	}
	return parseStartTime(data)
}

// parseStartTime extracts the start time from the text of /proc/<pid>/stat.
// The command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so fields are counted after its last ')'.
func parseStartTime(stat []byte) (uint64, error) {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat: no command name")
	}
	fields := strings.Fields(s[i+1:]) // fields 3 onwards
	const startTimeField = 22
	if len(fields) < startTimeField-2 {
		return 0, fmt.Errorf("malformed stat: %d fields", len(fields)+2)
	}
	v, err := strconv.ParseUint(fields[startTimeField-3], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed stat: start time: %w", err)
	}
	return v, nil
}

func (p procFS) exePath(pid int32) (string, error) {
	path, err := os.Readlink(filepath.Join(p.dir(pid), "exe"))
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(path, " (deleted)"), nil
}

// exeHash opens /proc/<pid>/exe, which reaches the executable even if it
// was replaced or deleted since, and hashes it, caching the digest by the
// file's device, inode, modification time and size.
func (p procFS) exeHash(pid int32) (string, error) {
	f, err := os.Open(filepath.Join(p.dir(pid), "exe"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	key := fileKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key.dev, key.ino = uint64(st.Dev), st.Ino
	}
	if sum, ok := p.hashes.get(key); ok {
		return sum, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	p.hashes.put(key, sum)
	return sum, nil
}

// fileKey identifies one version of a file.
type fileKey struct {
	dev, ino uint64
	mtime    int64
	size     int64
}

// maxHashCache caps the executables whose digest is cached.
const maxHashCache = 256

// hashCache remembers executable digests.
type hashCache struct {
	mu sync.Mutex
	m  map[fileKey]string
}

func newHashCache() *hashCache { return &hashCache{m: map[fileKey]string{}} }

func (c *hashCache) get(k fileKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[k]
	return s, ok
}

func (c *hashCache) put(k fileKey, sum string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxHashCache {
		clear(c.m)
	}
	c.m[k] = sum
}
