package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/kith-dev/kith/internal/config"
	"github.com/kith-dev/kith/internal/didyoumean"
)

// usageError marks a mistake in how kith was called: a bad flag, a missing
// argument. run prints it and exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError for the command of fs that points the user
// to its help.
func usagef(fs *flag.FlagSet, format string, args ...any) error {
	return usageError{fmt.Errorf("%s: %s (see '%s -h')", strings.TrimPrefix(fs.Name(), "kith "), fmt.Sprintf(format, args...), fs.Name())}
}

// exitCode reports err on stderr and returns the exit status for it: 0 for
// none or a request for help, 2 for a usageError, the code of an error
// that carries one (ExitCode, such as scan.FoundError's), 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "kith: %v\n", inFlagTerms(err))
	var coded interface{ ExitCode() int }
	switch {
	case errors.As(err, new(usageError)):
		return 2
	case errors.As(err, &coded):
		return coded.ExitCode()
	}
	return 1
}

// newFlagSet returns a FlagSet for "kith name" that reports to stderr and
// whose usage shows synopsis (the arguments after the name) and summary.
func newFlagSet(name, synopsis, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kith "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: kith %s %s\n\n%s\n", name, synopsis, summary)
		printExamples(w, name)
		fmt.Fprint(w, "\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses args with fs, accepting flags after positional arguments
// too (kith entry show ID -o json), and returns the positional arguments. It
// returns a usageError unless there are exactly want of them; flag.ErrHelp
// (wrapped) for -h.
func parseArgs(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	pos, err := parseAnyArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != want {
		return nil, usagef(fs, "want %d argument(s), got %d", want, len(pos))
	}
	return pos, nil
}

// parseAnyArgs is parseArgs for commands whose number of arguments depends
// on their flags: it leaves counting them to the caller.
func parseAnyArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...) // everything after -- is positional
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if f := fs.Lookup(config.Flag); f != nil && f.Value.String() != "" {
		if err := config.Load(fs, f.Value.String()); err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", strings.TrimPrefix(fs.Name(), "kith "), err)}
		}
	}
	return pos, nil
}

// parseFlags parses args with fs. For -h it prints the command's help and
// returns flag.ErrHelp (wrapped in a usageError); for a mistake it prints nothing and returns a
// usageError that says what was wrong in one line (see flagMistake),
// rather than the flag package's message followed by the whole help.
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		usage()
		return usageError{fmt.Errorf("%s: %w", strings.TrimPrefix(fs.Name(), "kith "), &helpShown{fs: fs})}
	}
	return usagef(fs, "%s", flagMistake(fs, err))
}

// flagMistake rewrites an error of fs.Parse to name the flag as it is
// typed (--name, or -o for one letter), with the nearest known flag for an
// unknown one.
func flagMistake(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		hint := ""
		if near := didyoumean.Nearest(name, names); near != "" {
			hint = " (did you mean " + dashed(near) + "?)"
		}
		return "unknown flag " + dashed(name) + hint
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return dashed(name) + " needs a value"
	}
	// invalid value "V" for flag -NAME: CAUSE, and the boolean form
	// invalid boolean value "V" for -NAME: CAUSE.
	for _, prefix := range []string{"invalid value ", "invalid boolean value "} {
		rest, ok := strings.CutPrefix(msg, prefix)
		if !ok {
			continue
		}
		value, rest, ok := strings.Cut(rest, " for ")
		if !ok {
			break
		}
		rest = strings.TrimPrefix(rest, "flag ")
		name, cause, ok := strings.Cut(strings.TrimPrefix(rest, "-"), ": ")
		if !ok {
			break
		}
		if cause == "parse error" {
			cause = "not a " + flagKind(fs.Lookup(name))
		}
		return dashed(name) + ": invalid value " + value + ": " + cause
	}
	return msg
}

// flagKind names what flag f takes, for an error.
func flagKind(f *flag.Flag) string {
	if f == nil {
		return "valid value"
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return "boolean (true or false)"
	}
	if kind, _ := flag.UnquoteUsage(f); kind != "" && kind != "value" {
		return kind
	}
	return "valid value"
}

// dashed returns a flag name as typed: -o for one letter, else --name.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// daemonFlags registers on fs the flags every long-running command has:
// --config and the logging flags.
func daemonFlags(fs *flag.FlagSet) *logFlags {
	fs.String(config.Flag, "", "YAML file of settings: flag names without dashes mapped to values, a list for a repeatable flag (flags on the command line win)")
	lf := &logFlags{}
	fs.StringVar(&lf.level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&lf.format, "log-format", "text", "log format: text or json")
	return lf
}

// subcommand is a command of a group such as "kith entry".
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// runGroup runs the subcommand of group named by args[0]. With no argument
// it lists the subcommands and returns a usageError; with an unknown one it
// returns a usageError with the nearest name (listing the subcommands when
// none is near); with -h or help it lists the subcommands on stdout, and
// help COMMAND is COMMAND -h.
func runGroup(ctx context.Context, group string, subs []subcommand, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printGroupUsage(stderr, group, subs)
		return usageError{fmt.Errorf("%s: missing command", group)}
	}
	switch args[0] {
	case "help":
		if len(args) > 1 {
			return runGroup(ctx, group, subs, append(args[1:2:2], "-h"), stdout, stderr)
		}
		fallthrough
	case "-h", "-help", "--help":
		printGroupUsage(stdout, group, subs)
		return &helpShown{group: group, subs: subs}
	}
	i := slices.IndexFunc(subs, func(s subcommand) bool { return s.name == args[0] })
	if i < 0 {
		names := make([]string, len(subs))
		for i, s := range subs {
			names[i] = s.name
		}
		return unknownCommand("kith "+group, group+": ", args[0], names, func(w io.Writer) { printGroupUsage(w, group, subs) }, stderr)
	}
	return subs[i].run(ctx, args[1:], stdout, stderr)
}

// unknownCommand returns the usageError for name, not one of names, typed
// after the command cmd: with the nearest of names if one is near, else
// with the list that usage prints on stderr. prefix starts the message.
func unknownCommand(cmd, prefix, name string, names []string, usage func(io.Writer), stderr io.Writer) error {
	if near := didyoumean.Nearest(name, names); near != "" {
		return usageError{fmt.Errorf("%sunknown command %q (did you mean %q?); see '%s -h'", prefix, name, near, cmd)}
	}
	usage(stderr)
	return usageError{fmt.Errorf("%sunknown command %q", prefix, name)}
}

// printGroupUsage lists the subcommands of group on w.
func printGroupUsage(w io.Writer, group string, subs []subcommand) {
	fmt.Fprintf(w, "Usage: kith %s <command> [flags] [arguments]\n\nCommands:\n", group)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range subs {
		fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
	}
	_ = tw.Flush()
	printExamples(w, group)
	fmt.Fprintf(w, "\nRun 'kith %s <command> -h' for the flags of a command.\n", group)
}

// helpShown is what a command returns after printing its help for -h or
// help: an error that wraps flag.ErrHelp (exit status 0) and carries what
// the help described, the flags of a command or the subcommands of a
// group, so that the command tree can be walked (see cmdtree.go).
type helpShown struct {
	fs    *flag.FlagSet // a command's flags
	group string        // or a group's name and subcommands
	subs  []subcommand
}

func (h *helpShown) Error() string { return flag.ErrHelp.Error() }
func (h *helpShown) Unwrap() error { return flag.ErrHelp }
