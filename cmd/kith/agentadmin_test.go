package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/server"
)

// startRealServer runs an in-process server for the test and returns its
// data folder, which the CLI reads for the address, bundle and token.
func startRealServer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{TrustDomain: "a.test", ListenAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return dir
}

// runAgentCLI runs `kith agent args...` with daemon standing in for the
// agent runner.
func runAgentCLI(t *testing.T, daemon agentDaemon, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := agentCommand(daemon)(t.Context(), args, &stdout, &stderr)
	return result{code: exitCode(err, &stderr), stdout: stdout.String(), stderr: stderr.String()}
}

// noDaemon fails the test if the agent runner is called.
func noDaemon(t *testing.T) agentDaemon {
	return func(context.Context, []string, io.Writer, io.Writer) error {
		t.Error("the agent runner was called for an admin command")
		return nil
	}
}

func TestAgentCommandDispatch(t *testing.T) {
	var got []string
	daemon := func(_ context.Context, args []string, _, _ io.Writer) error {
		got = args
		return nil
	}
	tests := []struct {
		name     string
		args     []string
		toDaemon bool
		stdout   string
	}{
		{"agent flags run the agent", []string{"--server", "https://x:1", "--join-token", "t", "--socket", "/s"}, true, ""},
		{"no arguments run the agent", nil, true, ""},
		{"-h is the agent's", []string{"-h"}, true, ""},
		{"help lists both", []string{"help"}, false, "kith agent --server URL"},
		{"token without a subcommand", []string{"token"}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			r := runAgentCLI(t, daemon, tc.args...)
			if tc.toDaemon != (got != nil || (tc.toDaemon && len(tc.args) == 0)) {
				t.Errorf("daemon called with %q, want called=%v", got, tc.toDaemon)
			}
			if tc.toDaemon && cmp.Diff(tc.args, got) != "" && len(tc.args) > 0 {
				t.Errorf("daemon args %q, want %q", got, tc.args)
			}
			if !strings.Contains(r.stdout, tc.stdout) {
				t.Errorf("stdout %q lacks %q", r.stdout, tc.stdout)
			}
		})
	}
}

func TestAgentAdminCommands(t *testing.T) {
	dir := startRealServer(t)
	daemon := noDaemon(t)

	r := runAgentCLI(t, daemon, "token", "create", "--ttl", "30m", "--data", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "kith_jt_") || !strings.Contains(r.stdout, "shown only now") {
		t.Fatalf("token create: %+v", r)
	}
	r = runAgentCLI(t, daemon, "token", "create", "--data", dir, "-o", "json")
	var tok api.JoinToken
	if err := json.Unmarshal([]byte(r.stdout), &tok); err != nil || !strings.HasPrefix(tok.Token, "kith_jt_"+tok.ID+"_") {
		t.Fatalf("token create -o json: %q, %v", r.stdout, err)
	}
	if r := runAgentCLI(t, daemon, "token", "create", "--ttl", "1s", "--data", dir); r.code != 2 || !strings.Contains(r.stderr, "--ttl") {
		t.Errorf("token create --ttl 1s: %+v, want a usage error", r)
	}

	r = runAgentCLI(t, daemon, "list", "--data", dir, "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"agents": []`) {
		t.Errorf("list of none: %+v", r)
	}
	if r := runAgentCLI(t, daemon, "show", "nope", "--data", dir); r.code != 1 || !strings.Contains(r.stderr, "404") {
		t.Errorf("show unknown: %+v", r)
	}
	if r := runAgentCLI(t, daemon, "evict", "nope", "--data", dir); r.code != 1 || !strings.Contains(r.stderr, "no agent with that ID") {
		t.Errorf("evict unknown: %+v", r)
	}
	if r := runAgentCLI(t, daemon, "show", "--data", dir); r.code != 2 {
		t.Errorf("show without ID: %+v, want a usage error", r)
	}
}

func TestEntryActionCommands(t *testing.T) {
	dir := startRealServer(t)
	r := runKith(t, "entry", "create", "--spiffe-id", "spiffe://a.test/orders", "--selector", "unix:uid:1000", "--data", dir, "-o", "json")
	var e api.Entry
	if err := json.Unmarshal([]byte(r.stdout), &e); err != nil {
		t.Fatalf("entry create: %+v: %v", r, err)
	}
	steps := []struct {
		args   []string
		stdout string
	}{
		{[]string{"entry", "revoke", e.ID}, "is active. Credentials of its SPIFFE ID issued until"},
		{[]string{"entry", "quarantine", e.ID}, "is quarantined."},
		{[]string{"entry", "release", e.ID}, "active"},
	}
	for _, st := range steps {
		r := runKith(t, append(st.args, "--data", dir)...)
		if r.code != 0 || !strings.Contains(r.stdout, st.stdout) {
			t.Errorf("kith %s: %+v, want stdout holding %q", strings.Join(st.args[:2], " "), r, st.stdout)
		}
	}
	r = runKith(t, "entry", "quarantine", e.ID, "--data", dir, "-o", "json")
	var rev api.EntryRevocation
	if err := json.Unmarshal([]byte(r.stdout), &rev); err != nil || rev.Entry.Status != "quarantined" || rev.RevokedAt.IsZero() {
		t.Errorf("quarantine -o json: %q, %v", r.stdout, err)
	}
	if r := runKith(t, "entry", "revoke", "nope", "--data", dir); r.code != 1 || !strings.Contains(r.stderr, "404") {
		t.Errorf("revoke unknown: %+v", r)
	}
}
