package main

import (
	"bytes"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kith-dev/kith/internal/agent"
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
