package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/witness"
)

// lineWriter sends each line written to it on lines, dropping those that
// do not fit.
type lineWriter struct {
	mu    sync.Mutex
	buf   string
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf += string(p)
	for {
		line, rest, ok := strings.Cut(w.buf, "\n")
		if !ok {
			return len(p), nil
		}
		select {
		case w.lines <- line:
		default: // nobody is reading any more
		}
		w.buf = rest
	}
}

// witnessRun is a `kith witness` running in the test.
type witnessRun struct {
	url, vkey string
	stdout    []string
	stop      func() error
}

// startWitness runs `kith witness args` until stop is called or the test
// ends, and returns once it serves.
func startWitness(t *testing.T, args ...string) *witnessRun {
	t.Helper()
	return startWitnessLogging(t, io.Discard, args...)
}

// startWitnessLogging is startWitness with the logs written to stderr.
func startWitnessLogging(t *testing.T, stderr io.Writer, args ...string) *witnessRun {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out := &lineWriter{lines: make(chan string, 16)}
	errc := make(chan error, 1)
	go func() { errc <- runWitness(ctx, args, out, stderr) }()
	var once sync.Once
	var stopErr error
	r := &witnessRun{stop: func() error {
		once.Do(func() { cancel(); stopErr = <-errc })
		return stopErr
	}}
	t.Cleanup(func() { r.stop() })
	deadline := time.After(10 * time.Second)
	for r.url == "" {
		select {
		case line := <-out.lines:
			r.stdout = append(r.stdout, line)
			if v, ok := strings.CutPrefix(line, "Witness verifier key: "); ok {
				r.vkey = v
			}
			if rest, ok := strings.CutPrefix(line, "Serving add-checkpoint on "); ok {
				r.url, _, _ = strings.Cut(rest, " ")
			}
		case err := <-errc:
			once.Do(func() { cancel(); stopErr = err }) // stop must not wait for it again
			t.Fatalf("kith witness stopped: %v", err)
		case <-deadline:
			t.Fatalf("kith witness did not start; it printed %q", r.stdout)
		}
	}
	return r
}

// signedCheckpoint returns the checkpoint of a tree of size leaves, all
// "leaf", signed by signer.
func signedCheckpoint(t *testing.T, signer note.Signer, origin string, size int) []byte {
	t.Helper()
	h := rfc6962.DefaultHasher
	var root []byte
	switch size {
	case 1:
		root = h.HashLeaf([]byte("leaf"))
	case 2:
		root = h.HashChildren(h.HashLeaf([]byte("leaf")), h.HashLeaf([]byte("leaf")))
	default:
		t.Fatalf("size %d not supported", size)
	}
	msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestWitnessCommand(t *testing.T) {
	dir := t.TempDir()
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.com/log")
	if err != nil {
		t.Fatal(err)
	}
	logSigner, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--listen", "127.0.0.1:0", "--data", dir, "--name", "witness.test/w1", "--log", "example.com/log " + vkey, "--log-level", "error"}

	r := startWitness(t, args...)
	if !strings.HasPrefix(r.stdout[0], "Created the witness key in ") || !strings.HasPrefix(r.vkey, "witness.test/w1+") {
		t.Errorf("first start printed %q", r.stdout)
	}
	v, err := witness.NewVerifier(r.vkey)
	if err != nil {
		t.Fatalf("printed verifier key: %v", err)
	}
	c, err := witness.NewClient(witness.ClientConfig{URL: r.url, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	cp := signedCheckpoint(t, logSigner, "example.com/log", 1)
	cosig, err := c.AddCheckpoint(t.Context(), 0, nil, cp)
	if err != nil {
		t.Fatalf("add-checkpoint: %v", err)
	}
	if _, err := note.Open(append(cp, cosig...), note.VerifierList(v)); err != nil {
		t.Errorf("cosignature: %v", err)
	}
	if err := r.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "witness.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("witness.key mode %v, want 0600", fi.Mode().Perm())
	}

	// A restart keeps the key and the state.
	r2 := startWitness(t, args...)
	if r2.vkey != r.vkey || strings.HasPrefix(r2.stdout[0], "Created") {
		t.Errorf("restart printed %q, want the same key %s, not created", r2.stdout, r.vkey)
	}
	c, err = witness.NewClient(witness.ClientConfig{URL: r2.url, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AddCheckpoint(t.Context(), 0, nil, signedCheckpoint(t, logSigner, "example.com/log", 2))
	var ce *witness.ConflictError
	if !errors.As(err, &ce) || ce.KnownSize != 1 {
		t.Errorf("after restart: error = %v, want a conflict with known size 1", err)
	}
	if err := r2.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}

	// The key's name cannot change.
	args[5] = "witness.test/other"
	if err := runWitness(t.Context(), args, io.Discard, io.Discard); !errors.As(err, new(usageError)) {
		t.Errorf("--name of another key: error = %v, want a usage error", err)
	}
}

func TestWitnessUsage(t *testing.T) {
	_, vkey, err := note.GenerateKey(rand.Reader, "example.com/log")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"argument", []string{"extra"}},
		{"log without key", []string{"--log", "example.com/log"}},
		{"log with a bad key", []string{"--log", "example.com/log notakey"}},
		{"log with a cosignature key", []string{"--log", "example.com/log " + mustWitnessVkey(t)}},
		{"log key of no origin", []string{"--log", strings.Replace(vkey, "example.com/log", "", 1)}},
		{"bad log level", []string{"--log-level", "loud"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--data", t.TempDir(), "--listen", "127.0.0.1:0"}, tc.args...)
			if err := runWitness(t.Context(), args, io.Discard, io.Discard); !errors.As(err, new(usageError)) {
				t.Errorf("error = %v, want a usage error", err)
			}
		})
	}
}

// TestWitnessLogKeyOnly: the log's verifier key alone names the log, its
// origin being the key's name, as kith witness --log "$(kith audit key)"
// expects; the witness starts without logging the store's migrations.
func TestWitnessLogKeyOnly(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.com/log")
	if err != nil {
		t.Fatal(err)
	}
	logSigner, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	r := startWitnessLogging(t, &logs, "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--name", "witness.test/w1", "--log", vkey, "--log-level", "info")
	v, err := witness.NewVerifier(r.vkey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := witness.NewClient(witness.ClientConfig{URL: r.url, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddCheckpoint(t.Context(), 0, nil, signedCheckpoint(t, logSigner, "example.com/log", 1)); err != nil {
		t.Errorf("add-checkpoint of the log named by its key alone: %v", err)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "migration") {
		t.Errorf("the witness logged migrations at info:\n%s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustWitnessVkey(t *testing.T) string {
	t.Helper()
	_, vkey, err := witness.GenerateKey("w")
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}

// TestWitnessConfigFile runs kith witness from a configuration file, with
// one setting overridden on the command line.
func TestWitnessConfigFile(t *testing.T) {
	dir := t.TempDir()
	_, vkey, err := note.GenerateKey(rand.Reader, "example.com/log")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "witness.yaml")
	conf := fmt.Sprintf("listen: 127.0.0.1:1\ndata: %s\nname: witness.test/from-file\nlog:\n  - %q\nlog-level: error\n", dir, "example.com/log "+vkey)
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// Port 1 would fail to listen: the command line's --listen must win.
	r := startWitness(t, "--config", file, "--listen", "127.0.0.1:0")
	if !strings.HasPrefix(r.vkey, "witness.test/from-file+") {
		t.Errorf("verifier key %q: the name did not come from the file", r.vkey)
	}
	if _, err := os.Stat(filepath.Join(dir, "witness.key")); err != nil {
		t.Errorf("the data folder did not come from the file: %v", err)
	}

	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:0\nlog-levle: error\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = runWitness(t.Context(), []string{"--config", file}, io.Discard, io.Discard)
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), `witness.yaml:2: unknown setting "log-levle" (did you mean "log-level"?)`) {
		t.Errorf("misspelt setting: error = %v, want a usage error naming the line", err)
	}
}
