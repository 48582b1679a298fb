package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kith-dev/kith/internal/agent"
)

// runAgentDaemon is `kith agent` with flags and no subcommand: the node
// agent, until interrupted.
func runAgentDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := agentConfig(args, stderr)
	if err != nil {
		return err
	}
	a, err := agent.New(cfg)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case err := <-done: // failed before it had an identity (or interrupted)
		return err
	case <-a.Ready():
	}
	fmt.Fprintf(stdout, "Workload API on %s; point workloads at it with:\n  export SPIFFE_ENDPOINT_SOCKET=unix://%s\n",
		cfg.SocketPath, absPath(cfg.SocketPath))
	return <-done
}

// agentConfig parses the arguments of `kith agent` (and its --config
// file) into the agent's Config, checked as far as can be without
// starting it.
func agentConfig(args []string, stderr io.Writer) (agent.Config, error) {
	fs := newFlagSet("agent", "--server URL --socket PATH [--join-token T] [flags]",
		"Run the node agent: attest this node with a one-time join token (first start\n"+
			"only; later starts reuse the identity in --data), keep in sync with the server,\n"+
			"and serve the SPIFFE Workload API on --socket.", stderr)
	var cfg agent.Config
	var token string
	fs.StringVar(&cfg.ServerURL, "server", os.Getenv("KITH_SERVER"), "server URL, https://host:port (env KITH_SERVER)")
	fs.StringVar(&token, "join-token", "", "one-time join token from 'kith agent token create' (env KITH_JOIN_TOKEN; first start only)")
	fs.StringVar(&cfg.SocketPath, "socket", "", "Unix socket of the Workload API (required)")
	fs.StringVar(&cfg.DataDir, "data", agent.DefaultDataDir, "data folder: the agent's key and SVID, and its cache")
	fs.StringVar(&cfg.TrustBundleFile, "trust-bundle", "", "PEM roots that verify the server on first start (such as the server's bundle.pem)")
	fs.StringVar(&cfg.TrustDomain, "trust-domain", "", "trust domain the server must belong to (default: from the bundle or the data folder)")
	fs.BoolVar(&cfg.InsecureBootstrap, "insecure-bootstrap", false, "first start only: do not verify the server (INSECURE; prefer --trust-bundle)")
	fs.StringVar(&cfg.HealthAddr, "health-addr", "", "serve /healthz, /readyz and /metrics on this address, such as 127.0.0.1:8088")
	lf := daemonFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return cfg, err
	}
	switch {
	case cfg.ServerURL == "":
		return cfg, usagef(fs, "--server is required")
	case cfg.SocketPath == "":
		return cfg, usagef(fs, "--socket is required")
	}
	if !strings.Contains(cfg.ServerURL, "://") {
		cfg.ServerURL = "https://" + cfg.ServerURL
	}
	if token == "" {
		token = os.Getenv("KITH_JOIN_TOKEN")
	}
	cfg.JoinToken = agent.NewJoinToken(token)
	logger, err := lf.logger(stderr)
	if err != nil {
		return cfg, usageError{err}
	}
	cfg.Logger = logger
	if err := cfg.Check(); err != nil {
		return cfg, usageError{agentFlagTerms(err)}
	}
	return cfg, nil
}

// agentFlags maps agent.Config fields to the flags of kith agent that set
// them, so that a configuration error names what was typed.
var agentFlags = map[string]string{
	"ServerURL":       "--server",
	"SocketPath":      "--socket",
	"TrustDomain":     "--trust-domain",
	"TrustBundleFile": "--trust-bundle",
}

// agentFlagTerms returns the problems of err, an error of
// agent.Config.Check, one a line, each naming its flag instead of its
// field.
func agentFlagTerms(err error) error {
	var lines []string
	for _, e := range leafErrors(err) {
		var ce *agent.ConfigError
		if errors.As(e, &ce) && agentFlags[ce.Field] != "" {
			msg := strings.TrimPrefix(ce.Error(), ce.Field)
			lines = append(lines, agentFlags[ce.Field]+msg)
			continue
		}
		lines = append(lines, e.Error())
	}
	return errors.New(strings.Join(lines, "\n"))
}

// leafErrors flattens the errors joined in err (through wrapping).
func leafErrors(err error) []error {
	for {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			var out []error
			for _, e := range j.Unwrap() {
				out = append(out, leafErrors(e)...)
			}
			return out
		}
		u := errors.Unwrap(err)
		if u == nil {
			return []error{err}
		}
		if _, ok := err.(*agent.ConfigError); ok {
			return []error{err}
		}
		err = u
	}
}

// absPath returns path made absolute, or path if that fails.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}
