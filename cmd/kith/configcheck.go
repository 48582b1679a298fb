package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/kith-dev/kith/internal/config"
)

// runConfig is `kith config`: configuration files.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "config", []subcommand{
		{"check", "check a configuration file without starting anything", runConfigCheck},
	}, args, stdout, stderr)
}

// configTarget is a command that takes --config: how it runs (for its
// flags) and how it parses and checks its arguments without starting.
type configTarget struct {
	name  string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	check func(args []string, stderr io.Writer) error
}

// configTargets are the commands a configuration file can be for.
func configTargets() []configTarget {
	return []configTarget{
		{"server", runServer, func(args []string, stderr io.Writer) error { _, err := serverConfig(args, stderr); return err }},
		{"agent", runAgentDaemon, func(args []string, stderr io.Writer) error { _, err := agentConfig(args, stderr); return err }},
		{"proxy", runProxy, func(args []string, stderr io.Writer) error { _, err := proxyConfig(args, stderr); return err }},
		{"witness", runWitness, func(args []string, stderr io.Writer) error { _, _, err := witnessConfig(args, stderr); return err }},
	}
}

// runConfigCheck is `kith config check`.
func runConfigCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config check", "[--for server|agent|proxy|witness] FILE",
		"Check a configuration file as the command it is for would read it at start:\n"+
			"every setting known, every value valid, the required ones present, files it\n"+
			"names readable. Nothing is started. Without --for, the command is the one\n"+
			"whose flags name every setting of the file.", stderr)
	forName := fs.String("for", "", "the command the file configures: server, agent, proxy or witness")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	file := pos[0]
	targets := configTargets()
	if *forName != "" {
		i := slices.IndexFunc(targets, func(t configTarget) bool { return t.name == *forName })
		if i < 0 {
			return usagef(fs, "--for must be server, agent, proxy or witness, not %q", *forName)
		}
		targets = targets[i : i+1]
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("config check: %w", err)
	}
	names, err := config.Names(file, data)
	if err != nil {
		return err
	}
	// The commands whose flags know the most settings of the file.
	best, bestKnown := []configTarget(nil), -1
	for _, t := range targets {
		var h *helpShown
		if err := t.run(ctx, []string{"-h"}, io.Discard, io.Discard); !errors.As(err, &h) || h.fs == nil {
			return fmt.Errorf("config check: kith %s has no flags", t.name)
		}
		known := 0
		for _, n := range names {
			if h.fs.Lookup(n) != nil {
				known++
			}
		}
		switch {
		case known > bestKnown:
			best, bestKnown = []configTarget{t}, known
		case known == bestKnown:
			best = append(best, t)
		}
	}
	var valid []string
	var errs []error
	for _, t := range best {
		if err := t.check([]string{"--" + config.Flag, file}, io.Discard); err != nil {
			msg := strings.TrimSuffix(err.Error(), fmt.Sprintf(" (see 'kith %s -h')", t.name))
			errs = append(errs, fmt.Errorf("%s is not a valid configuration of kith %s: %s", file, t.name, strings.TrimPrefix(msg, t.name+": ")))
			continue
		}
		valid = append(valid, "kith "+t.name)
	}
	if len(valid) == 0 {
		return errors.Join(errs...)
	}
	fmt.Fprintf(stdout, "%s: a valid configuration of %s (%d setting(s))\n", file, strings.Join(valid, ", "), len(names))
	return nil
}
