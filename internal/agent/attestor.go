package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
)

// errPIDReused means the process that connected is gone and its pid may
// belong to another process now: the attestor refuses to answer.
var errPIDReused = errors.New("the calling process exited or its pid was reused")

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
// If /proc cannot be read (hidepid, another user's process without
// CAP_SYS_PTRACE), the path and digest selectors are left out.
func (w *workloadAttestor) attest(p peerInfo) (map[string]bool, error) {
	uid, gid := strconv.FormatUint(uint64(p.uid), 10), strconv.FormatUint(uint64(p.gid), 10)
	sels := map[string]bool{"unix:uid:" + uid: true, "unix:gid:" + gid: true}
	if name, err := w.lookupUser(uid); err == nil && name != "" {
		sels["unix:user:"+name] = true
	}
	if name, err := w.lookupGroup(gid); err == nil && name != "" {
		sels["unix:group:"+name] = true
	}
	if p.pid <= 0 {
		return sels, nil
	}
	before, err := w.proc.startTime(p.pid)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, errPIDReused
	case err != nil:
		w.logger.Debug("workload attestation: /proc unreadable; path and sha256 selectors left out", "pid", p.pid, "error", err)
		return sels, nil
	case p.startTime != 0 && before != p.startTime:
		return nil, errPIDReused
	}
	if path, err := w.proc.exePath(p.pid); err == nil {
		sels["unix:path:"+path] = true
	} else {
		w.logger.Debug("workload attestation: no executable path", "pid", p.pid, "error", err)
	}
	if sum, err := w.proc.exeHash(p.pid); err == nil {
		sels["unix:sha256:"+sum] = true
	} else {
		w.logger.Debug("workload attestation: no executable digest", "pid", p.pid, "error", err)
	}
	after, err := w.proc.startTime(p.pid)
	if err != nil || after != before {
		return nil, fmt.Errorf("%w (start time %d, then %d)", errPIDReused, before, after)
	}
	return sels, nil
}
