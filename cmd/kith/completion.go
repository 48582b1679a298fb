package main

import (
	"context"
	"io"

	"github.com/kith-dev/kith/internal/clidoc"
)

// runCompletion is `kith completion`: a shell completion script made from
// the command tree.
func runCompletion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("completion", "bash|zsh|fish",
		"Print a shell completion script for kith: its commands, subcommands and flags,\n"+
			"as their help lists them; file names elsewhere.", stderr)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	gen := map[string]func(io.Writer, *clidoc.Command) error{"bash": clidoc.Bash, "zsh": clidoc.Zsh, "fish": clidoc.Fish}[pos[0]]
	if gen == nil {
		return usagef(fs, "unknown shell %q: want bash, zsh or fish", pos[0])
	}
	root, err := commandTree(ctx)
	if err != nil {
		return err
	}
	return gen(stdout, root)
}
