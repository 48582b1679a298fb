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
// none or a request for help, 2 for a usageError, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "kith: %v\n", err)
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

// newFlagSet returns a FlagSet for "kith name" that reports to stderr and
// whose usage shows synopsis (the arguments after the name) and summary.
func newFlagSet(name, synopsis, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kith "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kith %s %s\n\n%s\n\nFlags:\n", name, synopsis, summary)
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
		if err := fs.Parse(args); err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", strings.TrimPrefix(fs.Name(), "kith "), err)}
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
// or an unknown one it returns a usageError; with -h or help it lists the
// subcommands on stdout.
func runGroup(ctx context.Context, group string, subs []subcommand, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printGroupUsage(stderr, group, subs)
		return usageError{fmt.Errorf("%s: missing command", group)}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		printGroupUsage(stdout, group, subs)
		return nil
	}
	i := slices.IndexFunc(subs, func(s subcommand) bool { return s.name == args[0] })
	if i < 0 {
		printGroupUsage(stderr, group, subs)
		return usageError{fmt.Errorf("%s: unknown command %q", group, args[0])}
	}
	return subs[i].run(ctx, args[1:], stdout, stderr)
}

// printGroupUsage lists the subcommands of group on w.
func printGroupUsage(w io.Writer, group string, subs []subcommand) {
	fmt.Fprintf(w, "Usage: kith %s <command> [flags] [arguments]\n\nCommands:\n", group)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range subs {
		fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nRun 'kith %s <command> -h' for the flags of a command.\n", group)
}
