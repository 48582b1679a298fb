// Package clidoc turns a command tree, as the commands' own help describes
// it, into the documents derived from it: the CLI reference in Markdown
// (docs/cli.md) and shell completion scripts for bash, zsh and fish.
//
// It owns the formats of those documents only. It does not know the kith
// command or its flags: the caller walks its commands and hands over a
// [Command] tree; nothing here parses a command line.
package clidoc

import (
	"fmt"
	"strings"
)

// Command is one command of a tree: a group with Subcommands, a command
// with Flags, or both (a command that runs with flags and also has
// subcommands).
type Command struct {
	// Name is the word typed for the command: "kith", "entry", "create".
	Name string
	// Summary is the one line its parent's help shows for it.
	Summary string
	// Help is the help text the command prints for -h, verbatim.
	Help string
	// Flags are its flags, in the order its help lists them.
	Flags []Flag
	// Subcommands are its subcommands, in the order its help lists them.
	Subcommands []*Command
}

// Flag is a flag of a command.
type Flag struct {
	// Name is the flag without dashes: "spiffe-id", "o".
	Name string
	// Usage is its help text's first line.
	Usage string
	// Bool reports whether it takes no value.
	Bool bool
}

// Typed returns the flag as typed: -o for one letter, else --name.
func (f Flag) Typed() string {
	if len(f.Name) == 1 {
		return "-" + f.Name
	}
	return "--" + f.Name
}

// node is a command with its path below the root: "" for the root,
// " entry create" for kith entry create (each word after a space, as the
// completion scripts build it).
type node struct {
	path string
	cmd  *Command
}

// walk returns every command of root, depth first, root first.
func walk(root *Command) []node {
	var out []node
	var visit func(path string, c *Command)
	visit = func(path string, c *Command) {
		out = append(out, node{path, c})
		for _, s := range c.Subcommands {
			visit(path+" "+s.Name, s)
		}
	}
	visit("", root)
	return out
}

// firstLine returns the first line of s, trimmed.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

// checkNames returns an error if a command or flag name could break out
// of the quoting of a script: only letters, digits, '-', '_' and '.' are
// allowed.
func checkNames(root *Command) error {
	ok := func(s string) bool {
		if s == "" {
			return false
		}
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				return false
			}
		}
		return true
	}
	for _, n := range walk(root) {
		if !ok(n.cmd.Name) {
			return fmt.Errorf("clidoc: command name %q", n.cmd.Name)
		}
		for _, f := range n.cmd.Flags {
			if !ok(f.Name) {
				return fmt.Errorf("clidoc: flag name %q of %q", f.Name, strings.TrimSpace(n.path))
			}
		}
	}
	return nil
}
