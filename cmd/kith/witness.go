package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/witness"
)

// runWitness is `kith witness`: a C2SP tlog-witness, until interrupted.
func runWitness(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, fs, err := witnessConfig(args, stderr)
	if err != nil {
		return err
	}
	if len(cfg.Logs) == 0 {
		cfg.Logger.Warn("no --log given: the witness will refuse every checkpoint")
	}
	cfg.Ready = func(info witness.RunInfo) {
		if info.KeyCreated {
			fmt.Fprintf(stdout, "Created the witness key in %s (readable by you only).\n", info.KeyPath)
		}
		fmt.Fprintf(stdout, "Witness verifier key: %s\n", info.VerifierKey)
		fmt.Fprintf(stdout, "Serving add-checkpoint on http://%s for %d log(s).\n", info.Addr, len(cfg.Logs))
	}
	err = witness.Run(ctx, cfg)
	if ne := (*witness.KeyNameError)(nil); errors.As(err, &ne) {
		return usagef(fs, "--name %q differs from the name %q of the existing key in %s", ne.Name, ne.KeyName, ne.Path)
	}
	return err
}

// witnessConfig parses the arguments of `kith witness` (and its --config
// file) into the witness's configuration.
func witnessConfig(args []string, stderr io.Writer) (witness.RunConfig, *flag.FlagSet, error) {
	fs := newFlagSet("witness", `--data DIR --log "[ORIGIN] VKEY" [flags]`,
		"Run a transparency-log witness (https://c2sp.org/tlog-witness): cosign each checkpoint\n"+
			"of the logs given with --log that is consistent with the last one cosigned.\n\n"+
			"It serves POST /add-checkpoint over plain HTTP; expose it through a TLS terminator.\n"+
			"On first start it creates its key in DIR/witness.key; the verifier key it prints is\n"+
			"what logs configure to check its cosignatures.", stderr)
	var cfg witness.RunConfig
	fs.StringVar(&cfg.ListenAddr, "listen", "127.0.0.1:8444", "address to serve add-checkpoint on, over plain HTTP")
	fs.StringVar(&cfg.DataDir, "data", "kith-witness", "data folder: witness key (witness.key) and state (witness.db)")
	fs.StringVar(&cfg.Name, "name", "", "name of the witness key created on first start, such as witness.example.org/w1 (default: the host name)")
	fs.Var((*logList)(&cfg.Logs), "log", `a log to witness: its origin and verifier key, as "ORIGIN VKEY", or VKEY alone when the origin is the key's name, as kith audit key prints it (repeatable)`)
	lf := daemonFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return cfg, fs, err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return cfg, fs, usageError{err}
	}
	cfg.Logger = logger
	return cfg, fs, nil
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

// Set adds a log given as "ORIGIN VKEY", or as VKEY alone when the log's
// origin is the key's name, as for Kith's ledger: --log "$(kith audit key)".
func (l *logList) Set(s string) error {
	s = strings.TrimSpace(s)
	origin, vkey := "", s
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		origin, vkey = strings.TrimSpace(s[:i]), s[i+1:]
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("verifier key %q: %w (want \"ORIGIN VKEY\", or VKEY when the origin is the key's name)", vkey, err)
	}
	if origin == "" {
		origin = v.Name()
	}
	*l = append(*l, witness.Log{Origin: origin, Verifier: v})
	return nil
}

var _ flag.Value = (*logList)(nil)
