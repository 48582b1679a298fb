package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// runVersion is `kith version`: the module version, the commit and the Go
// version kith was built with.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "[-o table|json|yaml]", "Print the version of kith, the commit it was built from and the Go version.", stderr)
	output := fs.String("o", "table", "output format: table, json or yaml")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	v := versionOf(debug.ReadBuildInfo())
	switch *output {
	case "json", "yaml":
		return writeAs(stdout, *output, v)
	case "table":
		_, err := fmt.Fprintln(stdout, v.text())
		return err
	}
	return usagef(fs, "-o must be table, json or yaml, not %q", *output)
}

// versionJSON is `kith version -o json`.
type versionJSON struct {
	Version    string `json:"version"`               // the module version, "(devel)" for a local build
	Commit     string `json:"commit,omitempty"`      // vcs.revision, when the build recorded it
	Modified   bool   `json:"modified,omitempty"`    // built from a checkout with local changes
	CommitTime string `json:"commit_time,omitempty"` // vcs.time
	Go         string `json:"go"`
}

// versionOf reads what the build recorded (debug.ReadBuildInfo's results).
func versionOf(bi *debug.BuildInfo, ok bool) versionJSON {
	if !ok {
		return versionJSON{Version: "unknown", Go: runtime.Version()}
	}
	v := versionJSON{Version: bi.Main.Version, Go: bi.GoVersion}
	if v.Version == "" {
		v.Version = "unknown"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "vcs.time":
			v.CommitTime = s.Value
		}
	}
	return v
}

// text is the one line `kith version` prints.
func (v versionJSON) text() string {
	commit := "unknown (built without VCS information)"
	if v.Commit != "" {
		commit = v.Commit[:min(12, len(v.Commit))]
		if v.Modified {
			commit += "+modified"
		}
		if v.CommitTime != "" {
			commit += " (" + v.CommitTime + ")"
		}
	}
	return fmt.Sprintf("kith %s commit %s %s", v.Version, commit, v.Go)
}
