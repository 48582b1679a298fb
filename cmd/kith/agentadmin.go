package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
)

// agentDaemon runs the node agent itself: `kith agent --server URL
// --join-token T --socket PATH [--data DIR]` (runAgentDaemon, in
// agentrun.go).
type agentDaemon func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// agentSubcommands are the admin commands of `kith agent`.
func agentSubcommands() []subcommand {
	return []subcommand{
		{"token", "make one-time join tokens for agents", runAgentToken},
		{"list", "list node agents", runAgentList},
		{"show", "show a node agent", runAgentShow},
		{"evict", "evict a node agent: it and its workloads lose their identities", runAgentEvict},
	}
}

// runAgent is `kith agent`: see agentCommand.
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return agentCommand(runAgentDaemon)(ctx, args, stdout, stderr)
}

// agentCommand returns `kith agent`: with a first argument of token, list,
// show or evict it manages agents through the admin API; with anything
// else (flags) it runs the agent with daemon.
func agentCommand(daemon agentDaemon) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		subs := agentSubcommands()
		if len(args) > 0 {
			switch {
			case args[0] == "-h" || args[0] == "-help" || args[0] == "--help":
				// The agent's own flags, then the admin commands.
				err := daemon(ctx, args, stdout, stderr)
				if h := (*helpShown)(nil); errors.As(err, &h) {
					h.group, h.subs = "agent", subs
					fmt.Fprintln(stderr)
					printGroupUsage(stderr, "agent", subs)
				}
				return err
			case args[0] == "help":
				printGroupUsage(stdout, "agent", subs)
				fmt.Fprint(stdout, "\nRun the agent itself: kith agent --server URL --join-token TOKEN --socket PATH [--data DIR]\n")
				return nil
			case slices.ContainsFunc(subs, func(s subcommand) bool { return s.name == args[0] }):
				return runGroup(ctx, "agent", subs, args, stdout, stderr)
			}
		}
		return daemon(ctx, args, stdout, stderr)
	}
}

// runAgentToken is `kith agent token`.
func runAgentToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "agent token", []subcommand{
		{"create", "make a one-time join token", runAgentTokenCreate},
	}, args, stdout, stderr)
}

// runAgentTokenCreate is `kith agent token create`.
func runAgentTokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agent token create", "[flags]",
		"Make a one-time join token: an agent started with it attests once and from then on\n"+
			"authenticates with its own SVID. The token is shown only this once.", stderr)
	var ttl time.Duration
	durationVar(fs, &ttl, "ttl", time.Hour, "how long the token may be used, a `duration` from 1m to 7d")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if ttl < time.Minute || ttl > 7*24*time.Hour {
		return usagef(fs, "--ttl must be between 1m and 168h")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	tok, err := c.CreateJoinToken(ctx, ttl)
	if err != nil {
		return err
	}
	return cf.write(stdout, tok, func(w io.Writer) {
		fmt.Fprintf(w, "Join token:\t%s\n", tok.Token)
		fmt.Fprintf(w, "ID:\t%s\n", tok.ID)
		fmt.Fprintf(w, "Expires:\t%s\n", timeText(tok.ExpiresAt))
		fmt.Fprint(w, "\nIt is shown only now. Start the agent with:\n  kith agent --server https://HOST:PORT --join-token TOKEN --socket PATH\n")
	})
}

// runAgentList is `kith agent list`.
func runAgentList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f adminclient.AgentFilter
	return runList(ctx, listSpec[api.Agent]{
		name: "agent list", plural: "agents", summary: "List node agents, all of them unless --limit is given.",
		limit: &f.Limit, after: &f.After,
		page: func(ctx context.Context, c *adminclient.Client) ([]api.Agent, string, error) {
			p, err := c.ListAgents(ctx, f)
			if err != nil {
				return nil, "", err
			}
			return p.Agents, p.Next, nil
		},
		all:  func(ctx context.Context, c *adminclient.Client) ([]api.Agent, error) { return c.ListAllAgents(ctx, f) },
		wrap: func(items []api.Agent, next string) any { return api.AgentList{Agents: items, Next: next} },
		table: func(w io.Writer, items []api.Agent) {
			fmt.Fprintln(w, "ID\tSPIFFE ID\tSTATUS\tSVID EXPIRES\tCREATED")
			for _, a := range items {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.SPIFFEID, a.Status, timeText(a.SVIDExpiresAt), timeText(a.CreatedAt))
			}
		},
	}, args, stdout, stderr)
}

// runAgentShow is `kith agent show`.
func runAgentShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOnID(ctx, "agent show", "[flags] ID", "Show a node agent.", args, stdout, stderr,
		(*adminclient.Client).GetAgent, writeAgent)
}

// runAgentEvict is `kith agent evict`.
func runAgentEvict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOnID(ctx, "agent evict", "[flags] ID",
		"Evict a node agent: its requests are refused from now on, and its own SVID and\n"+
			"every unexpired workload X509-SVID issued through it are revoked.", args, stdout, stderr,
		(*adminclient.Client).EvictAgent, func(w io.Writer, ev *api.AgentEviction) {
			fmt.Fprintf(w, "Evicted agent %s (%s); revoked %d workload X509-SVID(s) issued through it.\n",
				ev.Agent.ID, ev.Agent.SPIFFEID, ev.RevokedSVIDs)
		})
}

// writeAgent prints a as a two-column table.
func writeAgent(w io.Writer, a *api.Agent) {
	rows := [][2]string{
		{"ID", a.ID},
		{"SPIFFE ID", a.SPIFFEID},
		{"Status", a.Status},
		{"Join token", orDash(a.JoinTokenID)},
		{"SVID serial", orDash(a.SerialNumber)},
		{"SVID expires", timeText(a.SVIDExpiresAt)},
		{"Created", timeText(a.CreatedAt)},
		{"Renewed", timeText(a.RenewedAt)},
		{"Evicted", timeText(a.EvictedAt)},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s:\t%s\n", r[0], r[1])
	}
}
