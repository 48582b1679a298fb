package agent

import (
	stdcmp "cmp"
	"errors"
	"io/fs"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeProc is a procReader whose answers a test scripts: the start times
// it returns, one per call, the executable, and how the process holds its
// socket (by default, close-on-exec).
type fakeProc struct {
	startTimes []uint64
	startErr   error
	calls      int
	path, hash string
	exeErr     error
	id         fileID
	idErr      error
	hold       *hold
	holdErr    error
}

func (p *fakeProc) startTime(int32) (uint64, error) {
	if p.startErr != nil {
		return 0, p.startErr
	}
	i := min(p.calls, len(p.startTimes)-1)
	p.calls++
	return p.startTimes[i], nil
}

func (p *fakeProc) exePath(int32) (string, error) { return p.path, p.exeErr }
func (p *fakeProc) exeHash(int32) (string, error) { return p.hash, p.exeErr }
func (p *fakeProc) exeID(int32) (fileID, error)   { return p.id, stdcmp.Or(p.idErr, p.exeErr) }

func (p *fakeProc) socketHold(int32, uint64) (hold, error) {
	if p.hold == nil {
		return hold{held: true, cloexec: true}, p.holdErr
	}
	return *p.hold, p.holdErr
}

func TestAttestSelectors(t *testing.T) {
	const hash = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	all := []string{"unix:gid:20", "unix:group:staff", "unix:path:/usr/bin/web", "unix:sha256:" + hash,
		"unix:uid:1000", "unix:user:alice"}
	idOnly := []string{"unix:gid:20", "unix:group:staff", "unix:uid:1000", "unix:user:alice"}
	tests := []struct {
		name    string
		peer    peerInfo
		proc    fakeProc
		want    []string
		wantErr error
	}{
		{"stable process", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7},
			fakeProc{startTimes: []uint64{7}, path: "/usr/bin/web", hash: hash}, all, nil},
		{"start time unknown at accept", peerInfo{pid: 42, uid: 1000, gid: 20},
			fakeProc{startTimes: []uint64{7}, path: "/usr/bin/web", hash: hash}, all, nil},
		{"pid reused before the lookup", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7},
			fakeProc{startTimes: []uint64{9}, path: "/usr/bin/web", hash: hash}, nil, errPIDReused},
		{"pid reused during the lookup", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7},
			fakeProc{startTimes: []uint64{7, 9}, path: "/usr/bin/web", hash: hash}, nil, errPIDReused},
		{"process gone", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7},
			fakeProc{startErr: fs.ErrNotExist}, nil, errPIDReused},
		{"proc unreadable", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7},
			fakeProc{startErr: fs.ErrPermission}, idOnly, nil},
		{"executable unreadable", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7},
			fakeProc{startTimes: []uint64{7}, exeErr: fs.ErrPermission}, idOnly, nil},
		{"no pid", peerInfo{uid: 1000, gid: 20}, fakeProc{}, idOnly, nil},
		{"same executable as at accept", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7, exe: fileID{1, 2}},
			fakeProc{startTimes: []uint64{7}, path: "/usr/bin/web", hash: hash, id: fileID{1, 2}}, all, nil},
		{"executed another program since accept", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7, exe: fileID{1, 2}},
			fakeProc{startTimes: []uint64{7}, path: "/usr/bin/web", hash: hash, id: fileID{1, 3}}, nil, errExecSinceConnect},
		{"socket handed to another process", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7},
			fakeProc{startTimes: []uint64{7}, path: "/usr/bin/web", hash: hash, hold: &hold{}}, nil, errSocketNotHeld},
		{"socket held only without close-on-exec", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7},
			fakeProc{startTimes: []uint64{7}, path: "/usr/bin/web", hash: hash, hold: &hold{held: true}}, idOnly, nil},
		{"socket unknown", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7},
			fakeProc{startTimes: []uint64{7}, path: "/usr/bin/web", hash: hash, holdErr: errNoPeerSocket}, idOnly, nil},
		{"executable unreadable since accept", peerInfo{pid: 42, uid: 1000, gid: 20, startTime: 7, exe: fileID{1, 2}},
			fakeProc{startTimes: []uint64{7}, path: "/usr/bin/web", hash: hash, idErr: fs.ErrPermission}, idOnly, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorkloadAttestor(&tt.proc, testLogger(t))
			w.lookupUser = func(string) (string, error) { return "alice", nil }
			w.lookupGroup = func(string) (string, error) { return "staff", nil }
			got, err := w.attest(tt.peer)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("attest = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, slices.Sorted(maps.Keys(got))); diff != "" {
				t.Errorf("selectors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseStartTime(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{"plain", "1234 (web) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10", 987654, false},
		{"command with spaces and parens", "1234 (a) b) (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 42 1000 10", 42, false},
		{"truncated", "1234 (web) S 1 1234", 0, true},
		{"no command", "1234 web S", 0, true},
		{"not a number", "1234 (web) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 x 1000", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStartTime([]byte(tt.stat))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStartTime = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestProcFS reads this process from the real /proc.
func TestProcFS(t *testing.T) {
	p := procFS{root: "/proc", hashes: newHashCache()}
	pid := int32(selfPID())
	st1, err := p.startTime(pid)
	if err != nil || st1 == 0 {
		t.Fatalf("startTime = %d, %v", st1, err)
	}
	if st2, _ := p.startTime(pid); st2 != st1 {
		t.Errorf("startTime changed: %d then %d", st1, st2)
	}
	path, err := p.exePath(pid)
	if err != nil || path == "" || path[0] != '/' {
		t.Errorf("exePath = %q, %v", path, err)
	}
	h1, err := p.exeHash(pid)
	if err != nil || len(h1) != 64 {
		t.Fatalf("exeHash = %q, %v", h1, err)
	}
	if h2, _ := p.exeHash(pid); h2 != h1 || len(p.hashes.m) != 1 {
		t.Errorf("second exeHash = %q with %d cached, want %q from the cache", h2, len(p.hashes.m), h1)
	}
}
