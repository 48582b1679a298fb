package main

import (
	"context"
	"io"
	"os"

	"github.com/kith-dev/kith/internal/dev"
)

// runDev is `kith dev`: the whole platform in one process on an embedded
// store, for a first look.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", "[flags]", "Run the whole platform locally on an embedded store, for a first look.", stderr)
	cfg := dev.Config{Out: stdout}
	fs.StringVar(&cfg.DataDir, "data", "", "data folder (default: a new temporary folder, removed on exit)")
	fs.StringVar(&cfg.TrustDomain, "trust-domain", "example.org", "demo trust domain")
	fs.StringVar(&cfg.ListenAddr, "listen", "127.0.0.1:8443", "HTTPS address of the admin API")
	lf := &logFlags{}
	fs.StringVar(&lf.level, "log-level", "warn", "log level: debug, info, warn or error")
	fs.StringVar(&lf.format, "log-format", "text", "log format: text or json")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return usageError{err}
	}
	cfg.Logger = logger
	cfg.Executable, _ = os.Executable()
	return dev.Run(ctx, cfg)
}
