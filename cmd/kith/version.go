package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

// runVersion is `kith version`: the module version and Go version kith
// was built with.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", "Print the version of kith.", stderr)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		_, err := fmt.Fprintln(stdout, "kith (unknown version)")
		return err
	}
	rev := ""
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			rev = " " + s.Value[:12]
		}
	}
	_, err := fmt.Fprintf(stdout, "kith %s%s %s\n", bi.Main.Version, rev, bi.GoVersion)
	return err
}
