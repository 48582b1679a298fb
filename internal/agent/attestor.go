package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/user"
	"strconv"
)

// Reasons the attestor refuses to describe a caller.
var (
	// errPIDReused means the process that connected is gone and its pid
	// may belong to another process now.
	errPIDReused = errors.New("the calling process exited or its pid was reused")
	// errExecSinceConnect means the process that connected has executed
	// another program since: the connection belongs to the program that
	// made it.
	errExecSinceConnect = errors.New("the calling process executed another program since it connected")
	// errSocketNotHeld means the process that connected no longer holds
	// the connection's socket: another process (a child it was handed to)
	// is using it.
	errSocketNotHeld = errors.New("the calling process no longer holds the connection's socket")
)

// workloadAttestor derives the selectors of a calling process.
type workloadAttestor struct {
	proc        procReader
	lookupUser  func(uid string) (string, error)
	lookupGroup func(gid string) (string, error)
	logger      *slog.Logger
}

func newWorkloadAttestor(proc procReader, logger *slog.Logger) *workloadAttestor {
	return &workloadAttestor{
		proc: proc, logger: logger,
		lookupUser: func(uid string) (string, error) {
			u, err := user.LookupId(uid)
			if err != nil {
				return "", err
			}
			return u.Username, nil
		},
		lookupGroup: func(gid string) (string, error) {
			g, err := user.LookupGroupId(gid)
			if err != nil {
				return "", err
			}
			return g.Name, nil
		},
	}
}

// attest returns the selectors of the process p describes, as a set.
//
// The uid and gid come from the kernel (SO_PEERCRED) and describe the
// process that connected, whatever happened since. The executable's path
// and digest are read from /proc/<pid>, which may by then describe another
// process if the caller exited and its pid was reused; so the pid's start
// time is read before and after, and must equal the one read when the
// connection was accepted. If it differs, attest fails with errPIDReused.
//
// The pid may also have executed another program since it connected (same
// pid, same start time), having handed the connection to a child or kept
// it. So the path and digest selectors are given only to a process that
// still runs the executable it ran when the connection was accepted
// (attest fails with errExecSinceConnect otherwise) and that holds the
// connection's socket in its descriptor table (errSocketNotHeld otherwise)
// with a close-on-exec descriptor: one that cannot have crossed an exec.
// A process that holds it only without close-on-exec gets neither
// selector, nor does one whose descriptors or socket cannot be read. If
// /proc cannot be read (hidepid, another user's process without
// CAP_SYS_PTRACE), the path and digest selectors are left out.
func (w *workloadAttestor) attest(p peerInfo) (map[string]bool, error) {
	a, err := w.describe(p)
	return a.selectors, err
}

// attestation is what the attestor found about a caller.
type attestation struct {
	selectors map[string]bool
	// withheld, if set, says why the path and sha256 selectors were left
	// out although the executable could be read.
	withheld string
}

// describe is attest, also saying why the path and sha256 selectors were
// withheld, if they were.
func (w *workloadAttestor) describe(p peerInfo) (attestation, error) {
	uid, gid := strconv.FormatUint(uint64(p.uid), 10), strconv.FormatUint(uint64(p.gid), 10)
	sels := map[string]bool{"unix:uid:" + uid: true, "unix:gid:" + gid: true}
	if name, err := w.lookupUser(uid); err == nil && name != "" {
		sels["unix:user:"+name] = true
	}
	if name, err := w.lookupGroup(gid); err == nil && name != "" {
		sels["unix:group:"+name] = true
	}
	if p.pid <= 0 {
		return attestation{selectors: sels}, nil
	}
	before, err := w.proc.startTime(p.pid)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return attestation{}, errPIDReused
	case err != nil:
		w.logger.Debug("workload attestation: /proc unreadable; path and sha256 selectors left out", "pid", p.pid, "error", err)
		return attestation{selectors: sels}, nil
	case p.startTime != 0 && before != p.startTime:
		return attestation{}, errPIDReused
	}
	exeSels := map[string]bool{}
	if path, err := w.proc.exePath(p.pid); err == nil {
		exeSels["unix:path:"+path] = true
	} else {
		w.logger.Debug("workload attestation: no executable path", "pid", p.pid, "error", err)
	}
	if sum, err := w.proc.exeHash(p.pid); err == nil {
		exeSels["unix:sha256:"+sum] = true
	} else {
		w.logger.Debug("workload attestation: no executable digest", "pid", p.pid, "error", err)
	}
	// After reading the executable, so that an exec during the reads is seen.
	withheld, err := w.sameProgram(p)
	if err != nil {
		return attestation{}, err
	}
	after, err := w.proc.startTime(p.pid)
	if err != nil || after != before {
		return attestation{}, fmt.Errorf("%w (start time %d, then %d)", errPIDReused, before, after)
	}
	if withheld == "" {
		maps.Copy(sels, exeSels)
	} else if len(exeSels) > 0 {
		w.logger.Debug("workload attestation: path and sha256 selectors left out", "pid", p.pid, "reason", withheld)
	}
	return attestation{selectors: sels, withheld: withheld}, nil
}

// sameProgram checks that the process p describes runs the program that
// made the connection, so that its executable may select entries. It
// fails with errExecSinceConnect if the executable changed since the
// connection was accepted, and errSocketNotHeld if the process no longer
// holds the connection's socket; when it cannot tell, it returns why the
// executable must not select entries.
func (w *workloadAttestor) sameProgram(p peerInfo) (withheld string, err error) {
	if p.exe != (fileID{}) {
		now, err := w.proc.exeID(p.pid)
		switch {
		case err != nil:
			return "the executable cannot be read: " + err.Error(), nil
		case now != p.exe:
			return "", errExecSinceConnect
		}
	}
	h, err := w.proc.socketHold(p.pid, p.sock)
	switch {
	case err != nil:
		return "the connection's socket cannot be found among the caller's descriptors: " + err.Error(), nil
	case !h.held:
		return "", errSocketNotHeld
	case !h.cloexec:
		return "the caller holds its Workload API socket only without close-on-exec, " +
			"so it may have been opened before the caller executed its program", nil
	}
	return "", nil
}
