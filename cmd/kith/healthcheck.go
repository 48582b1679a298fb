package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/healthcheck"
)

// runHealthcheck is `kith healthcheck`.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", "[--shallow] [flags] | --agent [--socket ADDR | --health-addr HOST:PORT]",
		"Check that the server, or with --agent the node agent, is up and healthy; exit 0\n"+
			"if it is, 1 if not. The server is verified the SPIFFE way: its X509-SVID must\n"+
			"chain to the bundle and name spiffe://TD/kith/server. It is asked /readyz (store\n"+
			"reachable, audit ledger verified), or /healthz with --shallow. The agent is asked\n"+
			"through its Workload API, as a workload would, or its --health-addr.", stderr)
	cf := addClientFlags(fs)
	shallow := fs.Bool("shallow", false, "server: only check that it serves (/healthz), not that it is ready")
	agentCheck := fs.Bool("agent", false, "check the node agent instead of the server")
	socket := fs.String("socket", "", "with --agent: the Workload API socket, a path or unix:///path (default $SPIFFE_ENDPOINT_SOCKET)")
	healthAddr := fs.String("health-addr", "", "with --agent: ask the agent's health address (its --health-addr) instead")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *agentCheck {
		cfg := healthcheck.AgentConfig{HealthAddr: *healthAddr}
		if cfg.HealthAddr == "" {
			cfg.Socket = workloadAddr(*socket)
			if cfg.Socket == "" {
				return usagef(fs, "--agent needs --socket, --health-addr or $SPIFFE_ENDPOINT_SOCKET")
			}
		}
		r, err := healthcheck.Agent(ctx, cfg)
		if err != nil {
			return err
		}
		return cf.write(stdout, r, func(w io.Writer) { fmt.Fprintf(w, "Agent is healthy: %s: %s\n", r.Target, r.Detail) })
	}
	if *socket != "" || *healthAddr != "" {
		return usagef(fs, "--socket and --health-addr go with --agent")
	}
	if cf.output != "table" && cf.output != "json" && cf.output != "yaml" {
		return usagef(fs, "-o must be table, json or yaml, not %q", cf.output)
	}
	o := cf.o
	o.NoToken = true
	cfg, err := adminclient.FromEnvironment(o)
	if err != nil {
		return err
	}
	base, hc, err := adminclient.ServerClient(cfg)
	if err != nil {
		return err
	}
	r, err := healthcheck.Server(ctx, healthcheck.ServerConfig{BaseURL: base, HTTPClient: hc, Shallow: *shallow})
	if err != nil {
		return err
	}
	return cf.write(stdout, r, func(w io.Writer) {
		fmt.Fprintf(w, "Server is healthy: %s (%s): %s\n", r.Target, r.SPIFFEID, r.Detail)
	})
}

// workloadAddr returns the Workload API address flag gives, as a unix://
// URL for a path, or $SPIFFE_ENDPOINT_SOCKET when flag is empty.
func workloadAddr(flag string) string {
	if flag == "" {
		return os.Getenv("SPIFFE_ENDPOINT_SOCKET")
	}
	if !strings.Contains(flag, "://") {
		return "unix://" + absPath(flag)
	}
	return flag
}
