package clidoc

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Markdown writes the reference of every command of root: a list of the
// commands, then each command's help text under a heading, in the order
// the tree lists them. generator is the command that regenerates the
// document, named in its first lines.
func Markdown(w io.Writer, root *Command, generator string) error {
	bw := bufio.NewWriter(w)
	nodes := walk(root)
	fmt.Fprintf(bw, "# %s command reference\n\n", root.Name)
	fmt.Fprintf(bw, "<!-- Generated from the commands' help by %s; do not edit. -->\n\n", generator)
	fmt.Fprintf(bw, "Every command prints this help for `-h`; `%s help COMMAND` does too.\n\n", root.Name)
	for _, n := range nodes {
		name := strings.TrimSpace(root.Name + n.path)
		indent := strings.Repeat("  ", strings.Count(n.path, " "))
		summary := ""
		if n.cmd.Summary != "" {
			summary = " — " + n.cmd.Summary
		}
		fmt.Fprintf(bw, "%s- [`%s`](#%s)%s\n", indent, name, anchor(name), summary)
	}
	for _, n := range nodes {
		name := strings.TrimSpace(root.Name + n.path)
		fmt.Fprintf(bw, "\n## %s\n\n```text\n%s\n```\n", name, strings.TrimRight(n.cmd.Help, "\n"))
	}
	return bw.Flush()
}

// anchor is the GitHub anchor of a heading made of words and spaces.
func anchor(heading string) string {
	return strings.ReplaceAll(strings.ToLower(heading), " ", "-")
}
