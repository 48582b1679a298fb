package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// unixPair returns both ends of a Unix socket connection made through a
// listener, as the Workload API's are.
func unixPair(t *testing.T) (client, server *net.UnixConn) {
	t.Helper()
	lis, err := net.Listen("unix", filepath.Join(shortTempDir(t), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	c, err := net.Dial("unix", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return c.(*net.UnixConn), s.(*net.UnixConn)
}

// requireSockDiag skips t on a kernel that cannot name the peer of a Unix
// socket (no unix_diag, some sandboxes): there the agent gives no path or
// sha256 selectors at all.
func requireSockDiag(t *testing.T) {
	t.Helper()
	_, server := unixPair(t)
	var err error
	fdOf(t, server, func(fd int) { _, err = peerSocketInode(fd) })
	if err != nil {
		t.Skipf("the kernel does not name socket peers: %v", err)
	}
}

// fdOf runs f with the descriptor of c.
func fdOf(t *testing.T, c syscall.Conn, f func(fd int)) {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Control(func(fd uintptr) { f(int(fd)) }); err != nil {
		t.Fatal(err)
	}
}

// TestSocketHold finds the client end of a connection from the server
// end (sock_diag) and in this process's descriptors (/proc), with and
// without close-on-exec.
func TestSocketHold(t *testing.T) {
	requireSockDiag(t)
	client, server := unixPair(t)
	var want uint64
	fdOf(t, client, func(fd int) {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		want = st.Ino
	})
	var peer uint64
	var peerErr error
	fdOf(t, server, func(fd int) { peer, peerErr = peerSocketInode(fd) })
	if peerErr != nil || peer != want {
		t.Fatalf("peerSocketInode = %d, %v; want the client's inode %d", peer, peerErr, want)
	}

	p := procFS{root: "/proc", hashes: newHashCache()}
	pid := int32(selfPID())
	check := func(what string, want hold) {
		t.Helper()
		if got, err := p.socketHold(pid, peer); err != nil || got != want {
			t.Errorf("%s: socketHold = %+v, %v; want %+v", what, got, err, want)
		}
	}
	check("held close-on-exec", hold{held: true, cloexec: true})
	fdOf(t, client, func(fd int) {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			t.Fatal(err)
		}
	})
	check("held only without close-on-exec", hold{held: true})
	dup, err := client.File() // a close-on-exec duplicate
	if err != nil {
		t.Fatal(err)
	}
	check("held both ways", hold{held: true, cloexec: true})
	dup.Close()
	client.Close()
	check("closed", hold{})
	if _, err := p.socketHold(pid, 0); err == nil {
		t.Error("socketHold of an unknown socket succeeded; want an error")
	}
}

func TestParseFDInfo(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    fdInfo
		wantErr bool
	}{
		{"socket, close-on-exec", "pos:\t0\nflags:\t02000002\nmnt_id:\t8\nino:\t123456\n", fdInfo{flags: 0o2000002, ino: 123456}, false},
		{"old kernel without ino", "pos:\t0\nflags:\t02\nmnt_id:\t8\n", fdInfo{flags: 0o2}, false},
		{"no flags", "pos:\t0\nino:\t1\n", fdInfo{}, true},
		{"flags not octal", "flags:\t0289\n", fdInfo{}, true},
		{"ino not a number", "flags:\t02\nino:\tx\n", fdInfo{}, true},
		{"empty", "", fdInfo{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFDInfo([]byte(tt.text))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseFDInfo = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseFDInfo(f *testing.F) {
	f.Add([]byte("pos:\t0\nflags:\t02000002\nmnt_id:\t8\nino:\t123456\n"))
	f.Add([]byte("flags:\t02\n"))
	f.Add([]byte("flags"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := parseFDInfo(data)
		if err != nil && info != (fdInfo{}) {
			t.Errorf("parseFDInfo = %+v with error %v; want the zero value", info, err)
		}
	})
}

// diagAnswer builds a kernel answer about socket ino with the given
// attributes.
func diagAnswer(ino uint32, attrs ...[]byte) []byte {
	body := make([]byte, unixDiagMsg)
	body[0] = unix.AF_UNIX
	binary.NativeEndian.PutUint32(body[4:], ino)
	for _, a := range attrs {
		body = append(body, a...)
	}
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], unix.SOCK_DIAG_BY_FAMILY)
	return append(msg, body...)
}

// diagAttr encodes one netlink attribute holding a 32-bit value.
func diagAttr(typ uint16, v uint32) []byte {
	a := make([]byte, 8)
	binary.NativeEndian.PutUint16(a[0:], 8)
	binary.NativeEndian.PutUint16(a[2:], typ)
	binary.NativeEndian.PutUint32(a[4:], v)
	return a
}

func TestParseUnixDiagPeer(t *testing.T) {
	errAnswer := make([]byte, unix.SizeofNlMsghdr+4)
	binary.NativeEndian.PutUint32(errAnswer[0:], uint32(len(errAnswer)))
	binary.NativeEndian.PutUint16(errAnswer[4:], unix.NLMSG_ERROR)
	enoent := -int32(unix.ENOENT)
	binary.NativeEndian.PutUint32(errAnswer[unix.SizeofNlMsghdr:], uint32(enoent))
	tests := []struct {
		name    string
		answer  []byte
		want    uint64
		wantErr bool
	}{
		{"peer", diagAnswer(7, diagAttr(unixDiagPeer, 99)), 99, false},
		{"peer after another attribute", diagAnswer(7, diagAttr(5, 1), diagAttr(unixDiagPeer, 99)), 99, false},
		{"no peer", diagAnswer(7, diagAttr(5, 1)), 0, true},
		{"another socket", diagAnswer(8, diagAttr(unixDiagPeer, 99)), 0, true},
		{"error", errAnswer, 0, true},
		{"truncated", diagAnswer(7, diagAttr(unixDiagPeer, 99))[:20], 0, true},
		{"empty", nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUnixDiagPeer(tt.answer, 7)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseUnixDiagPeer = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseUnixDiagPeer(f *testing.F) {
	f.Add(diagAnswer(7, diagAttr(unixDiagPeer, 99)))
	f.Add(diagAnswer(7, diagAttr(5, 1), diagAttr(unixDiagPeer, 99)))
	f.Add(unixDiagRequest(7))
	f.Fuzz(func(t *testing.T, answer []byte) {
		if peer, err := parseUnixDiagPeer(answer, 7); (err == nil) == (peer == 0) {
			t.Errorf("parseUnixDiagPeer = %d, %v; want a peer or an error", peer, err)
		}
	})
}
