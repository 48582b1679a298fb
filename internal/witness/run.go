package witness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/httpserve"
	"github.com/kith-dev/kith/internal/store"
)

// RunConfig configures [Run], the witness as a process of its own (`kith
// witness`). Zero values are documented defaults.
type RunConfig struct {
	// DataDir holds the witness key (witness.key, mode 0600) and the
	// witness's state (witness.db, SQLite); created, mode 0700, if
	// missing. "kith-witness" when empty.
	DataDir string
	// ListenAddr is the address to serve add-checkpoint on, over plain
	// HTTP (expose it through a TLS terminator); "127.0.0.1:8444" when
	// empty.
	ListenAddr string
	// Name names the key created on first start, such as
	// witness.example.org/w1; empty means the host name. When DataDir
	// already holds a key, a non-empty Name must be that key's name.
	Name string
	// Logs are the logs the witness cosigns for; with none it refuses
	// every checkpoint.
	Logs []Log
	// Logger receives the witness's logs and the HTTP server's errors;
	// nil discards them.
	Logger *slog.Logger
	// Ready, if set, is called once the witness serves, with what its
	// operator needs to know.
	Ready func(RunInfo)
}

// RunInfo is what [Run] tells its caller once the witness serves.
type RunInfo struct {
	// KeyPath is the file holding the witness key.
	KeyPath string
	// KeyCreated reports whether Run created the key on this start.
	KeyCreated bool
	// VerifierKey is the key's verifier key: what logs configure to
	// check the witness's cosignatures.
	VerifierKey string
	// Addr is the address the witness serves on.
	Addr net.Addr
}

// KeyNameError is returned by [Run] when RunConfig.Name differs from the
// name of the key already in the data folder: a witness's name cannot
// change once logs trust its key.
type KeyNameError struct {
	// Name is the name asked for; KeyName the existing key's, in Path.
	Name, KeyName, Path string
}

// Error says which names differ.
func (e *KeyNameError) Error() string {
	return fmt.Sprintf("witness: name %q differs from the name %q of the existing key in %s", e.Name, e.KeyName, e.Path)
}

// Run runs a witness until ctx is done: it loads the key from the data
// folder (creating it on first start), opens the state there and serves
// add-checkpoint on cfg.ListenAddr, then shuts down gracefully. It returns
// a *[KeyNameError] if cfg.Name differs from the existing key's name, or
// an error if the data folder, the key or the state cannot be read or
// written, the address cannot be listened on, or serving fails.
func Run(ctx context.Context, cfg RunConfig) error {
	if cfg.DataDir == "" {
		cfg.DataDir = "kith-witness"
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:8444"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	keyPath := filepath.Join(cfg.DataDir, "witness.key")
	skey, created, err := loadOrCreateKey(keyPath, cfg.Name, cfg.Logger)
	if err != nil {
		return err
	}
	signer, err := NewSigner(skey, nil)
	if err != nil {
		return fmt.Errorf("witness: %s: %w", keyPath, err)
	}
	if cfg.Name != "" && cfg.Name != signer.Name() {
		return &KeyNameError{Name: cfg.Name, KeyName: signer.Name(), Path: keyPath}
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		return fmt.Errorf("witness: %s: %w", keyPath, err)
	}

	st, err := store.Open(ctx, store.Config{URL: filepath.Join(cfg.DataDir, "witness.db"), Logger: cfg.Logger})
	if err != nil {
		return err
	}
	defer st.Close()
	w, err := New(Config{Signer: signer, Logs: cfg.Logs, State: st, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	if cfg.Ready != nil {
		cfg.Ready(RunInfo{KeyPath: keyPath, KeyCreated: created, VerifierKey: vkey, Addr: ln.Addr()})
	}
	err = httpserve.Run(ctx, ln, httpserve.Config{Handler: w.Handler(), WriteTimeout: 30 * time.Second,
		MaxHeaderBytes: 16 << 10, Logger: cfg.Logger})
	if err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	return nil
}

// loadOrCreateKey returns the signer key in path, creating it, mode 0600,
// with a new key named name (the host name if empty) if the file does not
// exist; created reports which.
func loadOrCreateKey(path, name string, logger *slog.Logger) (skey string, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			logger.Warn("the witness key file is readable by others", "path", path, "mode", fi.Mode().Perm())
		}
		return strings.TrimSpace(string(data)), false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("witness: read key: %w", err)
	}
	if name == "" {
		if name, err = os.Hostname(); err != nil {
			return "", false, fmt.Errorf("witness: no key name and no host name: %w", err)
		}
	}
	skey, _, err = GenerateKey(name)
	if err != nil {
		return "", false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("witness: write key: %w", err)
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("witness: write key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("witness: write key %s: %w", path, err)
	}
	return skey, true, nil
}
