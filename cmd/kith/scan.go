package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/scan"
)

// runScan is `kith scan`: hard-coded credentials in files and git history.
func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("scan", "[flags] PATH...",
		"Find hard-coded credentials in the files under each PATH and, for the top of a\n"+
			"git work tree, in its history (every commit of every branch), with gitleaks'\n"+
			"rules and one for Kith client secrets (reported only with a valid checksum).\n\n"+
			"With a server configured (--addr, --data, KITH_ADDR, KITH_DATA, KITH_ADMIN_TOKEN,\n"+
			"or ./kith-data), each Kith secret found is checked with it: which client holds\n"+
			"it, is it live; the server records the leak. --revoke revokes a live one at once\n"+
			"(the secret stops working and the client's tokens are revoked).\n\n"+
			"Exit status: 0 nothing found, 3 secrets found (none a live Kith secret),\n"+
			"4 a live Kith secret found (even if revoked now), 1 failure, 2 usage.", stderr)
	var rc scan.RunConfig
	fs.StringVar(&rc.Format, "o", scan.FormatTable, "output format: table, json or sarif")
	fs.StringVar(&rc.Format, "output", scan.FormatTable, "same as -o")
	fs.BoolVar(&rc.Revoke, "revoke", false, "revoke each live Kith secret found, at once (needs a server)")
	noHistory := fs.Bool("no-history", false, "scan the files only, not the git history")
	staged := fs.Bool("staged", false, "scan only the changes staged for the next commit, offline (for a pre-commit hook)")
	fs.StringVar(&rc.LogOpts, "log-opts", "", "git log options that select the commits to scan, such as main..HEAD (default: all)")
	offline := fs.Bool("offline", false, "do not check Kith secrets with a server, even if one is configured")
	cf := addConnFlags(fs)
	pos, err := parseAnyArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef(fs, "give at least one PATH (. for the current folder)")
	case *noHistory && *staged:
		return usagef(fs, "--no-history and --staged exclude each other")
	case *offline && rc.Revoke:
		return usagef(fs, "--revoke needs a server; drop --offline")
	case *staged && rc.Revoke:
		return usagef(fs, "--staged checks what is not committed yet, which has not leaked: nothing to revoke")
	}
	rc.Paths, rc.Out, rc.Stderr = pos, stdout, stderr
	if *noHistory {
		rc.History = scan.HistoryNone
	}
	if *staged {
		rc.History = scan.HistoryStaged
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rc.Version = versionOf(bi, ok).Version
	}
	// Staged changes have not left the machine: a secret in them is
	// refused, not reported to the server as a leak.
	if !*offline && !*staged && (rc.Revoke || adminclient.Configured(cf.o)) {
		c, err := cf.client()
		if err != nil {
			return err
		}
		rc.Checker = c
	}
	err = scan.Run(ctx, rc)
	if errors.Is(err, scan.ErrConfig) {
		return usagef(fs, "%s", strings.TrimPrefix(err.Error(), "scan: "))
	}
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	return nil
}
