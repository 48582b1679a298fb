package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/audit"
)

// runAudit is `kith audit`: read the audit ledger.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "audit", []subcommand{
		{"tail", "list the most recent audit events", runAuditTail},
		{"query", "list the audit events matching filters", runAuditQuery},
		{"show", "show one event's canonical JSON and leaf hash", runAuditShow},
		{"export", "stream the matching events as JSON Lines or CSV", runAuditExport},
		{"checkpoint", "print the latest signed checkpoint", runAuditCheckpoint},
		{"key", "print the ledger's checkpoint verifier key", runAuditKey},
		{"proof", "print the evidence bundle of one event", runAuditProof},
		{"verify", "verify an evidence bundle offline, or a whole log", runAuditVerify},
		{"types", "list the event types Kith writes and what each means", runAuditTypes},
	}, args, stdout, stderr)
}

// runAuditTypes is `kith audit types`: the event vocabulary (audit.Types).
func runAuditTypes(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit types", "[-o table|json]", "List the event types Kith writes, what each means and which part writes it.", stderr)
	output := fs.String("o", "table", "output format: table or json")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	types := audit.Types()
	switch *output {
	case "json":
		out := make([]eventTypeJSON, len(types))
		for i, t := range types {
			out[i] = eventTypeJSON(t)
		}
		return writeJSON(stdout, out)
	case "table":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TYPE\tWRITTEN BY\tMEANING")
		for _, t := range types {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Type, t.Writer, t.Meaning)
		}
		return tw.Flush()
	default:
		return usagef(fs, "-o must be table or json, not %q", *output)
	}
}

// eventTypeJSON is one event type in `kith audit types -o json`.
type eventTypeJSON struct {
	Type    string `json:"type"`
	Meaning string `json:"meaning"`
	Writer  string `json:"writer"`
}

// checkEventType refuses a --type that is not an event type Kith writes,
// naming the known types of the same group.
func checkEventType(fs *flag.FlagSet, typ string) error {
	if typ == "" || audit.KnownType(typ) {
		return nil
	}
	group, _, _ := strings.Cut(typ, ".")
	var near []string
	for _, t := range audit.Types() {
		if strings.HasPrefix(t.Type, group+".") {
			near = append(near, t.Type)
		}
	}
	hint := "`kith audit types` lists them"
	if len(near) > 0 {
		hint = "known " + group + " types: " + strings.Join(near, ", ") + "; " + hint
	}
	return usagef(fs, "--type %q is not an event type (%s)", typ, hint)
}

// auditPageSize is the page size audit tail reads with (the server's cap).
const auditPageSize = 1000

// runAuditTail is `kith audit tail`.
func runAuditTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit tail", "[flags]", "List the most recent audit events, oldest first.", stderr)
	var f adminclient.EventFilter
	fs.StringVar(&f.Type, "type", "", "only events of this type, such as entry.created (kith audit types lists them)")
	n := fs.Int("limit", 20, "number of events to list")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if err := checkEventType(fs, f.Type); err != nil {
		return err
	}
	if *n <= 0 {
		return usagef(fs, "--limit must be positive")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	// The API lists oldest first: read to the end, keeping the last n.
	var tail []api.Event
	f.Limit = auditPageSize
	for after := int64(-1); ; {
		page, err := c.ListEvents(ctx, f)
		if err != nil {
			return err
		}
		if len(page.Events) == 0 {
			break
		}
		last := page.Events[len(page.Events)-1].Index
		if last <= after {
			return fmt.Errorf("list events: the server went back to index %d after %d", last, after)
		}
		tail = append(tail, page.Events...)
		tail = tail[max(0, len(tail)-*n):]
		after = last
		f.After = strconv.FormatInt(after, 10)
	}
	return cf.write(stdout, api.EventList{Events: append([]api.Event{}, tail...)}, eventTable(tail))
}

// eventTable returns a table writer for events, one a line.
func eventTable(events []api.Event) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintln(w, "INDEX\tTIME\tTYPE\tACTOR\tTARGET\tOUTCOME")
		for _, e := range events {
			var ev audit.Event
			if err := json.Unmarshal(e.Event, &ev); err != nil {
				fmt.Fprintf(w, "%d\t(unreadable event: %v)\n", e.Index, err)
				continue
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Index, timeText(ev.Time), ev.Type, orDash(ev.Actor.ID), orDash(ev.Target), ev.Outcome)
		}
	}
}
