package witness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runWitness runs Run with cfg until the test ends and returns what Ready
// reported, once it serves.
func runWitness(t *testing.T, cfg RunConfig) RunInfo {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan RunInfo, 1)
	cfg.Ready = func(info RunInfo) { ready <- info }
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil after ctx is done", err)
		}
	})
	select {
	case info := <-ready:
		return info
	case err := <-done:
		t.Fatalf("Run stopped before it served: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not serve")
	}
	return RunInfo{}
}

// TestRunKey: the first start creates the key, readable by its owner
// only; a restart loads it; a different name is a *KeyNameError.
func TestRunKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	first := runWitness(t, RunConfig{DataDir: dir, ListenAddr: "127.0.0.1:0", Name: "witness.test/w1"})
	if !first.KeyCreated || first.KeyPath != filepath.Join(dir, "witness.key") || !strings.HasPrefix(first.VerifierKey, "witness.test/w1+") || first.Addr == nil {
		t.Errorf("first start: %+v", first)
	}
	fi, err := os.Stat(first.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}

	again := runWitness(t, RunConfig{DataDir: dir, ListenAddr: "127.0.0.1:0"})
	if again.KeyCreated || again.VerifierKey != first.VerifierKey {
		t.Errorf("restart: %+v, want the key of the first start, not created", again)
	}

	err = Run(t.Context(), RunConfig{DataDir: dir, ListenAddr: "127.0.0.1:0", Name: "witness.test/other"})
	var ne *KeyNameError
	if !errors.As(err, &ne) || ne.Name != "witness.test/other" || ne.KeyName != "witness.test/w1" || ne.Path != first.KeyPath {
		t.Errorf("another name: %v, want a *KeyNameError", err)
	}
}
