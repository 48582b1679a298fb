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
	"time"

	"golang.org/x/sys/unix"
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
	// exeID returns the device and inode of the process's executable,
	// which change when it executes another program.
	exeID(pid int32) (fileID, error)
	// socketHold says whether the process holds the socket of inode ino
	// in its descriptor table, and whether it holds it close-on-exec.
	socketHold(pid int32, ino uint64) (hold, error)
}

// fileID names a file: its device and inode. The zero fileID is unknown.
type fileID struct{ dev, ino uint64 }

// hold is how a process holds a socket.
type hold struct {
	held    bool // some descriptor of the process refers to it
	cloexec bool // one such descriptor is close-on-exec
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

func (p procFS) exeID(pid int32) (fileID, error) {
	fi, err := os.Stat(filepath.Join(p.dir(pid), "exe"))
	if err != nil {
		return fileID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Ino == 0 {
		return fileID{}, errors.New("no inode for the executable")
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// socketHold reads the process's descriptors in /proc/<pid>/fd and, for
// those that link to socket:[ino], their flags in /proc/<pid>/fdinfo.
// A descriptor is counted only if its fdinfo names the same inode, so
// that a descriptor number closed and reused between the two reads is not
// mistaken for the socket.
func (p procFS) socketHold(pid int32, ino uint64) (hold, error) {
	if ino == 0 {
		return hold{}, errNoPeerSocket
	}
	fdDir := filepath.Join(p.dir(pid), "fd")
	d, err := os.Open(fdDir)
	if err != nil {
		return hold{}, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return hold{}, err
	}
	want := "socket:[" + strconv.FormatUint(ino, 10) + "]"
	var h hold
	for _, name := range names {
		if link, err := os.Readlink(filepath.Join(fdDir, name)); err != nil || link != want {
			continue // closed since, or another file
		}
		data, err := os.ReadFile(filepath.Join(p.dir(pid), "fdinfo", name))
		if err != nil {
			continue // closed since
		}
		info, err := parseFDInfo(data)
		if err != nil {
			return hold{}, fmt.Errorf("fdinfo of descriptor %s: %w", name, err)
		}
		if info.ino != 0 && info.ino != ino {
			continue // reused since
		}
		h.held = true
		if info.flags&unix.O_CLOEXEC != 0 {
			h.cloexec = true
			break
		}
	}
	return h, nil
}

// fdInfo is what parseFDInfo reads from /proc/<pid>/fdinfo/<fd>.
type fdInfo struct {
	flags uint64 // open flags, with O_CLOEXEC if the descriptor is close-on-exec
	ino   uint64 // the file's inode; 0 on kernels older than 5.14, which omit it
}

// parseFDInfo parses the text of /proc/<pid>/fdinfo/<fd>: lines "key:
// value", where flags is octal and ino decimal. It fails without a flags
// line or with a malformed number.
func parseFDInfo(data []byte) (fdInfo, error) {
	var info fdInfo
	var haveFlags bool
	for line := range strings.Lines(string(data)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		var err error
		switch key {
		case "flags":
			info.flags, err = strconv.ParseUint(value, 8, 64)
			haveFlags = true
		case "ino":
			info.ino, err = strconv.ParseUint(value, 10, 64)
		}
		if err != nil {
			return fdInfo{}, fmt.Errorf("malformed fdinfo %s: %w", key, err)
		}
	}
	if !haveFlags {
		return fdInfo{}, errors.New("malformed fdinfo: no flags")
	}
	return info, nil
}

// exeHash opens /proc/<pid>/exe, which reaches the executable even if it
// was replaced or deleted since, and hashes it, or takes the digest from
// the cache (see hashCache).
func (p procFS) exeHash(pid int32) (string, error) {
	f, err := os.Open(filepath.Join(p.dir(pid), "exe"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	return p.hashes.sum(f)
}

// fileKey identifies one version of a file: its device and inode, its size,
// and its modification and change times to the nanosecond. The owner of a
// file can set its modification time (utimes) but not its change time,
// which the kernel sets to the current time on every write, chmod, chown or
// utimes.
type fileKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // Unix nanoseconds
}

// keyOf returns the fileKey of fi, or false if the file system does not
// report an inode and change time.
func keyOf(fi os.FileInfo) (fileKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{dev: uint64(st.Dev), ino: st.Ino, size: fi.Size(),
		mtime: fi.ModTime().UnixNano(), ctime: st.Ctim.Nano()}, true
}

// maxHashCache caps the executables whose digest is cached.
const maxHashCache = 256

// racyWindow returns how much older than the start of its hashing a
// file's change time must be for its digest to be reused. File times come
// from a coarse clock (a scheduler tick, at most 10 ms) cut to the file
// system's granularity (whole seconds on some, two on FAT), so a write
// made just after a file was hashed could carry the same change time as
// the version that was hashed; a write made later than the window cannot.
// A change time with no fraction of a second may come from a file system
// that keeps only seconds, and gets the long window. A digest of a file
// changed within the window is recomputed on its next use (git's "racily
// clean" entries, the same way).
func racyWindow(ctime int64) time.Duration {
	if ctime%int64(time.Second) == 0 {
		return 3 * time.Second
	}
	return 100 * time.Millisecond
}

// hashCache remembers executable digests by fileKey, so that a busy
// workload is not hashed again on every call. A digest is reused only for
// the same version of the same file (see fileKey) and only if that version
// was older than its racyWindow when it was hashed; otherwise the file is
// hashed again.
type hashCache struct {
	now func() time.Time // nil: time.Now; the file system's clock, not an injected one

	mu sync.Mutex
	m  map[fileKey]hashed
}

// hashed is a cached digest and when its hashing started.
type hashed struct {
	sum      string
	hashedAt time.Time
}

func newHashCache() *hashCache { return &hashCache{m: map[fileKey]hashed{}} }

// sum returns the SHA-256 of the open file f, in hex.
func (c *hashCache) sum(f *os.File) (string, error) {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	start := now() // before the stat: a write after it is later than start
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	key, cacheable := keyOf(fi)
	if cacheable {
		if sum, ok := c.get(key); ok {
			return sum, nil
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if cacheable {
		c.put(key, hashed{sum: sum, hashedAt: start})
	}
	return sum, nil
}

// get returns the digest cached for k, if it was hashed more than
// racyWindow after k's change time.
func (c *hashCache) get(k fileKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !time.Unix(0, k.ctime).Add(racyWindow(k.ctime)).Before(e.hashedAt) {
		return "", false
	}
	return e.sum, true
}

func (c *hashCache) put(k fileKey, e hashed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= maxHashCache {
		clear(c.m)
	}
	c.m[k] = e
}
