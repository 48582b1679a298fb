package agent

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kith-dev/kith/internal/agentproto"
)

// The exec-spoof helpers are this test binary run again, in the mode that
// execSpoofMode names. They print one line "RESULT ok <SPIFFE ID>" or
// "RESULT <gRPC code>" for the fetch they make.
const (
	execSpoofMode   = "KITH_EXECSPOOF_MODE"   // which helper to run
	execSpoofSocket = "KITH_EXECSPOOF_SOCKET" // the Workload API socket
	execSpoofNext   = "KITH_EXECSPOOF_NEXT"   // the program to exec
	execSpoofFD     = "KITH_EXECSPOOF_FD"     // a descriptor number handed over
)

// TestExecSpoofHelper is not a test: it runs the helper that
// KITH_EXECSPOOF_MODE names, when the test binary is started as one.
func TestExecSpoofHelper(t *testing.T) {
	mode := os.Getenv(execSpoofMode)
	if mode == "" {
		t.Skip("helper process for TestExecAfterConnect")
	}
	if err := runExecSpoofHelper(mode); err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
		os.Exit(2)
	}
	os.Exit(0)
}

func runExecSpoofHelper(mode string) error {
	switch mode {
	case "direct": // the allowed program, connecting for itself
		conn, err := net.Dial("unix", os.Getenv(execSpoofSocket))
		if err != nil {
			return err
		}
		fmt.Println(fetchOver(conn))
		return nil

	case "spoof-closed", "spoof-inherited": // the attacker
		// Connect, start a child that holds the connection and waits
		// for a byte on a pipe, then exec the allowed program, which
		// writes the byte. With spoof-inherited the connection survives
		// the exec (close-on-exec cleared); with spoof-closed it does not.
		conn, err := net.Dial("unix", os.Getenv(execSpoofSocket))
		if err != nil {
			return err
		}
		sock, err := conn.(*net.UnixConn).File() // a close-on-exec duplicate
		if err != nil {
			return err
		}
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		child := exec.Command(self, "-test.run=^TestExecSpoofHelper$")
		child.Env = withEnv(os.Environ(), execSpoofMode, "use-after-exec")
		child.Stdout, child.Stderr = os.Stdout, os.Stderr
		child.ExtraFiles = []*os.File{sock, r} // fds 3 and 4
		if err := child.Start(); err != nil {
			return err
		}
		if _, err := unix.FcntlInt(w.Fd(), unix.F_SETFD, 0); err != nil {
			return err
		}
		if mode == "spoof-inherited" {
			if _, err := unix.FcntlInt(sock.Fd(), unix.F_SETFD, 0); err != nil {
				return err
			}
		}
		next := os.Getenv(execSpoofNext)
		env := withEnv(withEnv(os.Environ(), execSpoofMode, "signal"), execSpoofFD, strconv.Itoa(int(w.Fd())))
		return syscall.Exec(next, []string{next, "-test.run=^TestExecSpoofHelper$"}, env)

	case "signal": // the allowed program after the exec: it only runs
		fd, err := strconv.Atoi(os.Getenv(execSpoofFD))
		if err != nil {
			return err
		}
		w := os.NewFile(uintptr(fd), "ready")
		if _, err := w.Write([]byte{1}); err != nil {
			return err
		}
		w.Close()
		io.Copy(io.Discard, os.Stdin) // run until the test closes stdin
		return nil

	case "use-after-exec": // the attacker's child
		ready := os.NewFile(4, "ready")
		if _, err := ready.Read(make([]byte, 1)); err != nil {
			return fmt.Errorf("wait for the exec: %w", err)
		}
		conn, err := net.FileConn(os.NewFile(3, "workload-api"))
		if err != nil {
			return err
		}
		fmt.Println(fetchOver(conn))
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// withEnv returns env with key set to value, replacing any earlier value
// (execve, unlike os/exec, passes duplicates on).
func withEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// fetchOver makes a FetchX509SVID call over conn and describes its first
// answer.
func fetchOver(conn net.Conn) string {
	cc, err := grpc.NewClient("passthrough:///workload-api",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return conn, nil }))
	if err != nil {
		return "RESULT client: " + err.Error()
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, securityHeader, "true")
	stream, err := workload.NewSpiffeWorkloadAPIClient(cc).FetchX509SVID(ctx, &workload.X509SVIDRequest{})
	if err == nil {
		var resp *workload.X509SVIDResponse
		if resp, err = stream.Recv(); err == nil {
			return "RESULT ok " + resp.Svids[0].SpiffeId
		}
	}
	return "RESULT " + status.Code(err).String()
}

// copyExecutable copies this test binary to path, with extra bytes
// appended (an ELF file runs the same with trailing bytes), and returns
// the copy's SHA-256.
func copyExecutable(t *testing.T, path string, extra string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, extra...)
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// runHelper runs program in mode and returns the RESULT line it prints.
// The helper's stdin stays open until the result is read, so that an
// allowed program that only runs is still running when the attacker's
// child calls.
func runHelper(t *testing.T, program, mode, socket, next string) string {
	t.Helper()
	cmd := exec.Command(program, "-test.run=^TestExecSpoofHelper$")
	cmd.Env = append(os.Environ(), execSpoofMode+"="+mode, execSpoofSocket+"="+socket, execSpoofNext+"="+next)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
				lines <- line
				return
			}
		}
		lines <- "no result: " + fmt.Sprint(sc.Err())
	}()
	select {
	case line := <-lines:
		return line
	case <-time.After(30 * time.Second):
		t.Fatalf("helper %s gave no result", mode)
		return ""
	}
}

// TestExecAfterConnect is the exec-after-connect attack on the unix:path
// and unix:sha256 selectors, end to end: a process of the entry's uid
// connects to the agent's Workload API, hands the connection to a child,
// and executes the allowed program; the child then asks for an SVID over
// the connection. The agent must refuse whether the connection was closed
// by the exec or survived it, while the allowed program connecting for
// itself gets its SVID.
func TestExecAfterConnect(t *testing.T) {
	if testing.Short() {
		t.Skip("copies the test binary")
	}
	requireSockDiag(t)
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	r := startAgent(t, newTestConfig(t, fs, clock))

	dir := t.TempDir()
	allowed, attacker := filepath.Join(dir, "allowed"), filepath.Join(dir, "attacker")
	sum := copyExecutable(t, allowed, "allowed")
	copyExecutable(t, attacker, "attacker")
	e := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/allowed",
		Selectors: []string{ownUIDSelector(), "unix:path:" + allowed, "unix:sha256:" + sum}})
	r.awaitEntry(t, e.ID)

	if got, want := runHelper(t, allowed, "direct", r.socket, ""), "ok "+e.SPIFFEID; got != want {
		t.Fatalf("the allowed program connecting for itself got %q, want %q", got, want)
	}
	for _, mode := range []string{"spoof-closed", "spoof-inherited"} {
		t.Run(mode, func(t *testing.T) {
			if got := runHelper(t, attacker, mode, r.socket, allowed); got != "PermissionDenied" {
				t.Errorf("the attacker's child got %q, want PermissionDenied", got)
			}
		})
	}
}

// execingProc is the real /proc, except that once exec is set the
// executable of every process looks like another file: as if the caller
// had executed another program.
type execingProc struct {
	procFS
	exec atomic.Bool
}

func (p *execingProc) exeID(pid int32) (fileID, error) {
	id, err := p.procFS.exeID(pid)
	if p.exec.Load() {
		id.ino++
	}
	return id, err
}

// TestStreamEndsAfterExec checks that an X509-SVID stream attests its
// caller again on every update: once the caller has executed another
// program, the next update ends the stream with PermissionDenied instead
// of handing the new program the identity.
func TestStreamEndsAfterExec(t *testing.T) {
	requireSockDiag(t)
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	proc := &execingProc{procFS: procFS{root: "/proc", hashes: newHashCache()}}
	r := startAgentWith(t, newTestConfig(t, fs, clock), func(a *Agent) { a.attestor.proc = proc })
	self, err := proc.exePath(int32(selfPID()))
	if err != nil {
		t.Fatal(err)
	}
	e := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/self",
		Selectors: []string{ownUIDSelector(), "unix:path:" + self}})
	r.awaitEntry(t, e.ID)

	cc, err := grpc.NewClient(r.addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), securityHeader, "true"), 20*time.Second)
	defer cancel()
	stream, err := workload.NewSpiffeWorkloadAPIClient(cc).FetchX509SVID(ctx, &workload.X509SVIDRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.Svids[0].SpiffeId != e.SPIFFEID {
		t.Fatalf("first update = %v, %v; want the SVID of %s", resp, err, e.SPIFFEID)
	}

	proc.exec.Store(true)
	other := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/other", Selectors: []string{"unix:uid:4000000000"}})
	r.awaitEntry(t, other.ID)
	if resp, err := stream.Recv(); status.Code(err) != codes.PermissionDenied {
		t.Errorf("update after the exec = %v, %v; want PermissionDenied", resp, err)
	}
}
