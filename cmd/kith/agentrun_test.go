package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/agent"
	"github.com/kith-dev/kith/internal/await"
)

func TestAgentDaemonFlags(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "api.sock")
	data := filepath.Join(dir, "data")
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantUsage bool
		wantErr   error
		stderr    string
	}{
		{name: "help", args: []string{"-h"}, wantUsage: true, wantErr: flag.ErrHelp, stderr: "Usage: kith agent --server URL --socket PATH"},
		{name: "no server", args: []string{"--socket", sock}, wantUsage: true, stderr: ""},
		{name: "no socket", args: []string{"--server", "127.0.0.1:1"}, wantUsage: true},
		{name: "extra argument", args: []string{"--server", "127.0.0.1:1", "--socket", sock, "x"}, wantUsage: true},
		{name: "bad log level", args: []string{"--server", "127.0.0.1:1", "--socket", sock, "--log-level", "loud"}, wantUsage: true},
		{name: "first start without a token", args: []string{"--server", "127.0.0.1:1", "--socket", sock, "--data", data},
			wantErr: agent.ErrNoIdentity},
		{name: "first start without a bundle", args: []string{"--server", "127.0.0.1:1", "--socket", sock, "--data", data},
			env: map[string]string{"KITH_JOIN_TOKEN": "t"}, wantErr: agent.ErrNoTrustBundle},
		{name: "server from the environment", args: []string{"--socket", sock, "--data", data, "--join-token", "t"},
			env: map[string]string{"KITH_SERVER": "127.0.0.1:1"}, wantErr: agent.ErrNoTrustBundle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KITH_SERVER", "")
			t.Setenv("KITH_JOIN_TOKEN", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			err := runAgentDaemon(t.Context(), tt.args, &stdout, &stderr)
			if got := errors.As(err, new(usageError)); got != tt.wantUsage {
				t.Errorf("usage error = %v (%v), want %v", got, err, tt.wantUsage)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.stderr)
			}
		})
	}
}

// TestAgentDaemonRuns runs `kith agent` against a real server: it attests
// with a join token, verifies the server with --trust-bundle, and serves a
// go-spiffe workload on --socket.
func TestAgentDaemonRuns(t *testing.T) {
	dir := startRealServer(t)
	cfg, err := adminclient.FromEnvironment(adminclient.Overrides{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := adminclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	jt, err := admin.CreateJoinToken(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateEntry(t.Context(), api.Entry{SPIFFEID: "spiffe://a.test/cli", AnyAgent: true,
		Selectors: []string{"unix:uid:" + strconv.Itoa(os.Getuid())}}); err != nil {
		t.Fatal(err)
	}
	sockDir, err := os.MkdirTemp("", "kith")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "api.sock")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr await.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runAgentDaemon(ctx, []string{"--server", cfg.Addr, "--join-token", jt.Token, "--socket", sock,
			"--data", filepath.Join(t.TempDir(), "agent"), "--trust-bundle", filepath.Join(dir, "bundle.pem"),
			"--log-level", "debug"}, &stdout, &stderr)
	}()
	// The agent binds the socket first, then attests and follows the sync
	// stream, logging each message it applied (at debug): once it logs
	// one with the entry, it serves the workload.
	if !await.Signal(30*time.Second, stderr.Wrote, func() bool { return appliedEntries(stderr.String()) }) {
		t.Fatalf("the agent applied no sync message with the entry within 30s\nstderr:\n%s", stderr.String())
	}
	fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
	defer fcancel()
	svid, err := workloadapi.FetchX509SVID(fctx, workloadapi.WithAddr("unix://"+sock))
	if err != nil {
		t.Fatalf("FetchX509SVID: %v\nstderr:\n%s", err, stderr.String())
	}
	if svid.ID.String() != "spiffe://a.test/cli" {
		t.Errorf("SVID for %s, want spiffe://a.test/cli", svid.ID)
	}
	if !strings.Contains(stdout.String(), "SPIFFE_ENDPOINT_SOCKET=unix://"+sock) {
		t.Errorf("stdout = %q, want the socket to export", stdout.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("kith agent = %v, want nil after interruption", err)
	}
	if strings.Contains(stderr.String(), jt.Token) {
		t.Error("the join token appears in the logs")
	}
}

// appliedEntries reports whether an agent's text log (at debug) shows a
// sync message applied with at least one entry.
func appliedEntries(log string) bool {
	return regexp.MustCompile(`msg="sync: applied" .* entries=[1-9]`).MatchString(log)
}

// TestAgentDaemonFailedStart: a first start that cannot attest leaves no
// data folder behind and prints no line to export, as no Workload API
// will serve at the socket.
func TestAgentDaemonFailedStart(t *testing.T) {
	dir := startRealServer(t)
	cfg, err := adminclient.FromEnvironment(adminclient.Overrides{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	sockDir, err := os.MkdirTemp("", "kith")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr error
	}{
		{name: "refused join token", args: []string{"--join-token", "not-a-token", "--trust-bundle", filepath.Join(dir, "bundle.pem")},
			wantErr: agent.ErrAttestationRefused},
		{name: "no join token", wantErr: agent.ErrNoIdentity},
		{name: "no bundle", args: []string{"--join-token", "t"}, wantErr: agent.ErrNoTrustBundle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KITH_JOIN_TOKEN", "")
			data := filepath.Join(t.TempDir(), "agent")
			var stdout, stderr bytes.Buffer
			args := append([]string{"--server", cfg.Addr, "--socket", filepath.Join(sockDir, "api.sock"), "--data", data}, tc.args...)
			err := runAgentDaemon(t.Context(), args, &stdout, &stderr)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("kith agent = %v, want %v", err, tc.wantErr)
			}
			if strings.Contains(stdout.String(), "SPIFFE_ENDPOINT_SOCKET") {
				t.Errorf("stdout = %q: the export line of an agent that never served", stdout.String())
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the data folder exists after a failed first start (%v)", err)
			}
		})
	}
}
