package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Exit statuses of `kith scan` beyond 0 (nothing found), 1 (failure) and
// 2 (usage): see [FoundError.ExitCode].
const (
	// ExitFound: secrets were found, none of them a Kith secret known to
	// be live.
	ExitFound = 3
	// ExitLive: a Kith secret found was live when checked (even if this
	// scan then revoked it).
	ExitLive = 4
)

// Output formats of [Run].
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatSARIF = "sarif"
)

// RunConfig configures [Run]: a scan and where its report goes.
type RunConfig struct {
	Config
	// Format is FormatTable (the default when empty), FormatJSON or
	// FormatSARIF.
	Format string
	// Out receives the report; Stderr, after a JSON or SARIF report,
	// the line that says nothing was found.
	Out, Stderr io.Writer
	// Version is Kith's version, named in SARIF output.
	Version string
}

// FoundError is what [Run] returns when the scan found secrets: the
// report is written, and the exit status says what was found.
type FoundError struct {
	Summary Summary
}

// Error says what was found.
func (e *FoundError) Error() string { return e.Summary.String() }

// ExitCode is ExitLive when a live Kith secret was found, else ExitFound.
func (e *FoundError) ExitCode() int {
	if e.Summary.Live > 0 {
		return ExitLive
	}
	return ExitFound
}

// Run scans and writes the report to rc.Out in rc.Format (and, for JSON
// and SARIF, "No secrets found." to rc.Stderr when that is so). It returns nil when nothing was found, a *FoundError when
// something was (after writing the report), an error wrapping
// [ErrCheck] when a Kith secret could not be checked (also after writing
// the report, which says which), an error wrapping [ErrConfig] for an
// invalid configuration, and the error of a scan that failed.
func Run(ctx context.Context, rc RunConfig) error {
	var write func(*Report, io.Writer) error
	switch rc.Format {
	case "", FormatTable:
		write = (*Report).WriteTable
	case FormatJSON:
		write = (*Report).WriteJSON
	case FormatSARIF:
		write = func(r *Report, w io.Writer) error { return r.WriteSARIF(w, rc.Version) }
	default:
		return fmt.Errorf("%w: unknown output format %q (want table, json or sarif)", ErrConfig, rc.Format)
	}
	rep, err := Scan(ctx, rc.Config)
	if rep == nil {
		return err
	}
	if werr := write(rep, rc.Out); werr != nil {
		return errors.Join(err, fmt.Errorf("scan: write report: %w", werr))
	}
	sum := rep.Summary()
	if err != nil {
		return err
	}
	if sum.Found > 0 {
		return &FoundError{Summary: sum}
	}
	if rc.Stderr != nil && rc.Format != "" && rc.Format != FormatTable { // a table says so itself
		fmt.Fprintln(rc.Stderr, "No secrets found.")
	}
	return nil
}
