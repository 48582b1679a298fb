package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/kith-dev/kith/internal/adminclient"
)

// eventFilterFlags are the filter flags of audit query and audit export.
type eventFilterFlags struct {
	f            adminclient.EventFilter
	since, until string
	after        int64
	fs           *flag.FlagSet
}

// addEventFilterFlags registers the event filter flags on fs; limit is the
// default of --limit and limitHelp its help text.
func addEventFilterFlags(fs *flag.FlagSet, limit int, limitHelp string) *eventFilterFlags {
	ef := &eventFilterFlags{fs: fs}
	fs.StringVar(&ef.f.Type, "type", "", "only events of this type, such as entry.created (kith audit types lists them)")
	fs.StringVar(&ef.f.Actor, "actor", "", "only events by this actor ID")
	fs.StringVar(&ef.f.Target, "target", "", "only events on this target")
	fs.StringVar(&ef.f.Outcome, "outcome", "", "only events with this outcome: success, failure or denied")
	fs.StringVar(&ef.since, "since", "", "only events at or after this RFC 3339 time")
	fs.StringVar(&ef.until, "until", "", "only events before this RFC 3339 time")
	fs.Int64Var(&ef.after, "after", -1, "only events with an index greater than this")
	fs.IntVar(&ef.f.Limit, "limit", limit, limitHelp)
	return ef
}

// filter returns the filter the flags describe, or a usageError.
func (ef *eventFilterFlags) filter() (adminclient.EventFilter, error) {
	f := ef.f
	if err := checkEventType(ef.fs, f.Type); err != nil {
		return f, err
	}
	for _, t := range []struct {
		name, v string
		dst     *time.Time
	}{{"since", ef.since, &f.Since}, {"until", ef.until, &f.Until}} {
		if t.v == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			return f, usagef(ef.fs, "--%s must be an RFC 3339 time such as 2030-01-02T03:04:05Z, not %q", t.name, t.v)
		}
		*t.dst = v
	}
	if ef.after < -1 {
		return f, usagef(ef.fs, "--after must be an event index (or -1 for all)")
	}
	if ef.after >= 0 {
		f.After = strconv.FormatInt(ef.after, 10)
	}
	if f.Limit < 0 {
		return f, usagef(ef.fs, "--limit must not be negative")
	}
	return f, nil
}

// runAuditQuery is `kith audit query`.
func runAuditQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit query", "[flags]",
		"List one page of the audit events matching the filters, oldest first.\n"+
			"For the next page, pass the last index printed as --after.", stderr)
	ef := addEventFilterFlags(fs, 100, "number of events to list (the server caps it at 1000)")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	f, err := ef.filter()
	if err != nil {
		return err
	}
	if f.Limit == 0 {
		return usagef(fs, "--limit must be positive")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	page, err := c.ListEvents(ctx, f)
	if err != nil {
		return err
	}
	if err := cf.write(stdout, page, eventTable(page.Events, true)); err != nil {
		return err
	}
	if n := len(page.Events); n > 0 && n == f.Limit && !cf.json() {
		fmt.Fprintf(stderr, "(there may be more: add --after %d)\n", page.Events[n-1].Index)
	}
	return nil
}

// runAuditExport is `kith audit export`.
func runAuditExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit export", "[--format jsonl|csv] [--out FILE] [flags]",
		"Stream every audit event matching the filters, oldest first, as JSON Lines\n"+
			"(one {\"index\":…,\"event\":…} object a line) or CSV with a header row.\n"+
			"With --out, write FILE (mode 0644) only once the export is complete.", stderr)
	format := fs.String("format", "jsonl", "jsonl or csv")
	out := fs.String("out", "", "file to write instead of stdout")
	ef := addEventFilterFlags(fs, 0, "most events to export (0: all)")
	cf := addConnFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *format != "jsonl" && *format != "csv" {
		return usagef(fs, "--format must be jsonl or csv, not %q", *format)
	}
	f, err := ef.filter()
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	export := func(w io.Writer) error { return c.ExportEvents(ctx, f, *format, w) }
	if *out == "" {
		return export(stdout)
	}
	return writeFileAtomic(*out, export)
}
