package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/witness"
	"golang.org/x/mod/sumdb/note"
)

// runWitness is `kith witness`: a C2SP tlog-witness, until interrupted.
func runWitness(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("witness", `--data DIR --log "ORIGIN VKEY" [flags]`,
		"Run a transparency-log witness (https://c2sp.org/tlog-witness): cosign each checkpoint\n"+
			"of the logs given with --log that is consistent with the last one cosigned.\n\n"+
			"It serves POST /add-checkpoint over plain HTTP; expose it through a TLS terminator.\n"+
			"On first start it creates its key in DIR/witness.key; the verifier key it prints is\n"+
			"what logs configure to check its cosignatures.", stderr)
	listen := fs.String("listen", "127.0.0.1:8444", "address to serve add-checkpoint on, over plain HTTP")
	dataDir := fs.String("data", "kith-witness", "data folder: witness key (witness.key) and state (witness.db)")
	name := fs.String("name", "", "name of the witness key created on first start, such as witness.example.org/w1 (default: the host name)")
	var logs logList
	fs.Var(&logs, "log", `a log to witness: its origin and verifier key, as "ORIGIN VKEY" (repeatable)`)
	lf := daemonFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return usageError{err}
	}
	if len(logs) == 0 {
		logger.Warn("no --log given: the witness will refuse every checkpoint")
	}

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	keyPath := filepath.Join(*dataDir, "witness.key")
	skey, created, err := loadOrCreateWitnessKey(keyPath, *name, logger)
	if err != nil {
		return err
	}
	signer, err := witness.NewSigner(skey, nil)
	if err != nil {
		return fmt.Errorf("witness: %s: %w", keyPath, err)
	}
	if *name != "" && *name != signer.Name() {
		return usagef(fs, "--name %q differs from the name %q of the existing key in %s", *name, signer.Name(), keyPath)
	}
	vkey, err := witness.VerifierKey(skey)
	if err != nil {
		return fmt.Errorf("witness: %s: %w", keyPath, err)
	}

	st, err := store.Open(ctx, store.Config{URL: filepath.Join(*dataDir, "witness.db"), Logger: logger})
	if err != nil {
		return err
	}
	defer st.Close()
	w, err := witness.New(witness.Config{Signer: signer, Logs: logs, State: st, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	if created {
		fmt.Fprintf(stdout, "Created the witness key in %s (readable by you only).\n", keyPath)
	}
	fmt.Fprintf(stdout, "Witness verifier key: %s\n", vkey)
	fmt.Fprintf(stdout, "Serving add-checkpoint on http://%s for %d log(s).\n", ln.Addr(), len(logs))
	return serveWitness(ctx, ln, w.Handler(), logger)
}

// serveWitness serves h on l until ctx is done, then shuts down gracefully.
func serveWitness(ctx context.Context, l net.Listener, h http.Handler, logger *slog.Logger) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("witness: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	return err
}

// loadOrCreateWitnessKey returns the signer key in path, creating it,
// mode 0600, with a new key named name (the host name if empty) if the
// file does not exist; created reports which.
func loadOrCreateWitnessKey(path, name string, logger *slog.Logger) (skey string, created bool, err error) {
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
			return "", false, fmt.Errorf("witness: no --name and no host name: %w", err)
		}
	}
	skey, _, err = witness.GenerateKey(name)
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

// logList is the repeatable --log flag: "ORIGIN VKEY", the log's origin
// line and its Ed25519 signed-note verifier key.
type logList []witness.Log

func (l *logList) String() string {
	origins := make([]string, len(*l))
	for i, lg := range *l {
		origins[i] = lg.Origin
	}
	return strings.Join(origins, ", ")
}

func (l *logList) Set(s string) error {
	i := strings.LastIndexByte(strings.TrimSpace(s), ' ')
	if i < 0 {
		return errors.New(`want "ORIGIN VKEY"`)
	}
	s = strings.TrimSpace(s)
	origin, vkey := strings.TrimSpace(s[:i]), s[i+1:]
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("verifier key %q: %w", vkey, err)
	}
	*l = append(*l, witness.Log{Origin: origin, Verifier: v})
	return nil
}

var _ flag.Value = (*logList)(nil)
