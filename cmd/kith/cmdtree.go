package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kith-dev/kith/internal/clidoc"
)

// commandTree returns kith's commands as their help describes them, found
// by asking each command for its help (-h) the way a user would: a group
// answers with its subcommands, a command with its flags (see helpShown).
// Nothing runs but the printing of help.
func commandTree(ctx context.Context) (*clidoc.Command, error) {
	var top bytes.Buffer
	printUsage(&top)
	root := &clidoc.Command{Name: "kith", Help: top.String()}
	for _, c := range commands() {
		sub, err := describe(ctx, []string{c.name}, c.summary, c.run)
		if err != nil {
			return nil, err
		}
		root.Subcommands = append(root.Subcommands, sub)
	}
	return root, nil
}

// describe asks the command at path (run) for its help and returns it with
// its subcommands, described in turn.
func describe(ctx context.Context, path []string, summary string,
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) (*clidoc.Command, error) {
	var out bytes.Buffer
	err := run(ctx, []string{"-h"}, &out, &out)
	var h *helpShown
	if !errors.As(err, &h) {
		return nil, fmt.Errorf("kith %s -h did not print help (%v)", strings.Join(path, " "), err)
	}
	c := &clidoc.Command{Name: path[len(path)-1], Summary: summary, Help: out.String()}
	if h.fs != nil {
		h.fs.VisitAll(func(f *flag.Flag) {
			b, ok := f.Value.(interface{ IsBoolFlag() bool })
			c.Flags = append(c.Flags, clidoc.Flag{Name: f.Name, Usage: f.Usage, Bool: ok && b.IsBoolFlag()})
		})
	}
	for _, s := range h.subs {
		sub, err := describe(ctx, append(path[:len(path):len(path)], s.name), s.summary, s.run)
		if err != nil {
			return nil, err
		}
		c.Subcommands = append(c.Subcommands, sub)
	}
	return c, nil
}
