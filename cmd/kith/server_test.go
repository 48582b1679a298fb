package main

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/config"
)

// TestServerTokenFlags checks the token service's flags of `kith server`.
func TestServerTokenFlags(t *testing.T) {
	parse := func(args ...string) error {
		fs := flag.NewFlagSet("server", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg, _ := serverFlags(fs)
		err := fs.Parse(args)
		if err == nil && len(args) > 0 && args[0] == "--token-ttl" {
			if cfg.TokenTTL != 10*time.Minute || cfg.TokenClientRate != 50 || cfg.TokenClientBurst != 70 || !cfg.BatchTokenAudit {
				t.Errorf("flags gave %+v", cfg)
			}
		}
		return err
	}
	if err := parse("--token-ttl", "10m", "--token-client-rate", "50", "--token-client-burst", "70", "--token-audit", "batched"); err != nil {
		t.Fatal(err)
	}
	if err := parse("--token-audit", "sometimes"); err == nil {
		t.Error("--token-audit sometimes accepted")
	}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	cfg, _ := serverFlags(fs)
	if err := fs.Parse(nil); err != nil || cfg.BatchTokenAudit {
		t.Errorf("default token audit is batched (%v)", err)
	}
}

// TestServerAccessLogFlag: --access-log, on the command line or as
// access-log in the configuration file.
func TestServerAccessLogFlag(t *testing.T) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	cfg, _ := serverFlags(fs)
	if err := fs.Parse([]string{"--access-log"}); err != nil || !cfg.AccessLog {
		t.Errorf("--access-log: AccessLog %v (%v)", cfg.AccessLog, err)
	}
	fs = flag.NewFlagSet("server", flag.ContinueOnError)
	cfg, _ = serverFlags(fs)
	if err := fs.Parse(nil); err != nil || cfg.AccessLog {
		t.Errorf("default: AccessLog %v (%v)", cfg.AccessLog, err)
	}
	if err := config.Apply(fs, "server.yaml", []byte("access-log: true\n")); err != nil || !cfg.AccessLog {
		t.Errorf("access-log in a file: AccessLog %v (%v)", cfg.AccessLog, err)
	}
}
