// Command kith is Kith in one binary: the control-plane server (kith
// server), a local demo topology (kith dev), and the admin CLI that manages
// workload entries, trust bundles, federation, SVIDs and the audit ledger
// through the server's admin API.
//
// This package only wires flags into Config structs and calls into the
// internal packages; it holds no logic of its own.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"text/tabwriter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is a top-level kith subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands returns the subcommands of kith, in the order help lists them.
func commands() []command {
	return []command{
		{"server", "run the control-plane server", runServer},
		{"dev", "run a server, agent, proxies and demo services locally", runDev},
		{"agent", "run a node agent, or manage agents (token, list, show, evict)", runAgent},
		{"proxy", "run the data-plane proxy (inbound, outbound, TCP) beside a workload", runProxy},
		{"witness", "cosign checkpoints of other logs (C2SP tlog-witness)", runWitness},
		{"entry", "manage workload entries", runEntry},
		{"bundle", "show the trust domain's bundle", runBundle},
		{"federation", "manage federation with other trust domains", runFederation},
		{"client", "manage OAuth clients", runClient},
		{"policy", "manage and check authorization policies (apply, test, explain, ...)", runPolicy},
		{"svid", "mint X509-SVIDs and JWT-SVIDs", runSVID},
		{"workload", "fetch this process's SVIDs and bundles from a Workload API", runWorkload},
		{"token", "get access tokens from the token service (client credentials)", runToken},
		{"audit", "read the audit ledger", runAudit},
		{"trust", "the behavioural-trust engine: callers' trust, its history, clear; replay recorded calls", runTrust},
		{"signal", "the trust engine's signals: evidence about callers' behaviour", runSignal},
		{"scan", "find hard-coded credentials in files and git history; check and revoke Kith secrets", runScan},
		{"simulate", "generate labelled traffic with attacks, or evaluate a detector on it", runSimulate},
		{"healthcheck", "check that the server or a node agent is healthy", runHealthcheck},
		{"config", "check configuration files (kith config check FILE)", runConfig},
		{"completion", "print a shell completion script (bash, zsh, fish)", runCompletion},
		{"version", "print the version of kith", runVersion},
	}
}

// run runs kith with args (without the program name) and returns the exit
// status: 0 on success, 1 on failure, 2 on a usage error, or the code an
// error carries (kith scan's 3 and 4). stdin is reserved
// for commands that read input.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	_ = stdin
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			printUsage(stdout)
			return 0
		}
		// kith help CMD [SUBCMD] is kith CMD [SUBCMD] -h.
		name, rest = rest[0], append(rest[1:min(2, len(rest)):min(2, len(rest))], "-h")
	}
	i := slices.IndexFunc(commands(), func(c command) bool { return c.name == name })
	if i < 0 {
		names := make([]string, 0, len(commands()))
		for _, c := range commands() {
			names = append(names, c.name)
		}
		return exitCode(unknownCommand("kith", "", name, names, func(w io.Writer) { fmt.Fprintln(w); printUsage(w) }, stderr), stderr)
	}
	return exitCode(commands()[i].run(ctx, rest, stdout, stderr), stderr)
}

// printUsage writes the list of commands to w.
func printUsage(w io.Writer) {
	fmt.Fprint(w, "Kith: workload identity, mTLS, policy and audit for machine-to-machine calls.\n\n")
	fmt.Fprint(w, "Usage: kith <command> [arguments]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	fmt.Fprintf(tw, "  %s\t%s\n", "help", "show this help, or a command's help: kith help <command>")
	_ = tw.Flush()
	printExamples(w, "")
	fmt.Fprint(w, "\nRun 'kith <command> -h' for the flags of a command.\n")
}

//go:generate go test -run TestCLIReference -update .
