package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

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
	fs := newFlagSet("audit types", "[-o table|json|yaml]", "List the event types Kith writes, what each means and which part writes it.", stderr)
	output := fs.String("o", "table", "output format: table, json or yaml")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	types := audit.Types()
	switch *output {
	case "json", "yaml":
		out := make([]eventTypeJSON, len(types))
		for i, t := range types {
			out[i] = eventTypeJSON(t)
		}
		return writeAs(stdout, *output, out)
	case "table":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TYPE\tWRITTEN BY\tMEANING")
		for _, t := range types {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Type, t.Writer, t.Meaning)
		}
		return tw.Flush()
	default:
		return usagef(fs, "-o must be table, json or yaml, not %q", *output)
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

// followInterval is how often audit tail --follow asks for new events.
const followInterval = time.Second

// runAuditTail is `kith audit tail`.
func runAuditTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit tail", "[--follow] [--calls | --all | --type T] [flags]",
		"List the most recent audit events, oldest first; with --follow, then the new\n"+
			"ones as they are recorded, until interrupted (with -o json, one JSON object\n"+
			"a line). By default it lists changes, leaving out the traffic that drowns\n"+
			"them: decided calls (call.decided), access tokens issued, SVIDs agents and\n"+
			"workloads obtained, agents' renewals. --calls adds the decided calls, --all\n"+
			"shows every event, --type only the events of one type.", stderr)
	var f adminclient.EventFilter
	fs.StringVar(&f.Type, "type", "", "only events of this type, such as entry.created or call.decided (kith audit types lists them)")
	calls := fs.Bool("calls", false, "include decided calls (call.decided)")
	all := fs.Bool("all", false, "include every event, traffic too")
	n := fs.Int("limit", 20, "number of events to list before following")
	var follow bool
	fs.BoolVar(&follow, "follow", false, "keep listing events as they are recorded, until interrupted")
	fs.BoolVar(&follow, "f", false, "same as --follow")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if err := checkEventType(fs, f.Type); err != nil {
		return err
	}
	switch {
	case *n <= 0:
		return usagef(fs, "--limit must be positive")
	case f.Type != "" && (*calls || *all):
		return usagef(fs, "--type lists one type; drop --calls and --all")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	hidden := false
	keep := func(e api.Event) bool {
		if f.Type != "" || *all {
			return true
		}
		var ev audit.Event
		if json.Unmarshal(e.Event, &ev) != nil {
			return true // shown as unreadable
		}
		if ev.Type == audit.TypeCallDecided && *calls {
			return true
		}
		if audit.IsTraffic(ev.Type, ev.Actor.Kind) {
			hidden = true
			return false
		}
		return true
	}
	tail, last, err := c.TailEvents(ctx, f, *n, keep)
	if err != nil {
		return err
	}
	if !follow {
		err := cf.write(stdout, api.EventList{Events: tail}, eventTable(tail, true))
		if err == nil && hidden && !cf.json() {
			fmt.Fprintln(stderr, "(traffic left out: decided calls, tokens issued, SVIDs of workloads; --calls or --all shows it)")
		}
		return err
	}
	emit := func(events []api.Event, header bool) error {
		if cf.json() {
			enc := json.NewEncoder(stdout)
			for _, e := range events {
				if err := enc.Encode(e); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		eventTable(events, header)(tw)
		return tw.Flush()
	}
	if err := emit(tail, true); err != nil {
		return err
	}
	return c.FollowEvents(ctx, f, last, followInterval, keep, func(events []api.Event) error { return emit(events, false) })
}

// eventTable returns a table writer for events, one a line, after a
// header line if header.
func eventTable(events []api.Event, header bool) func(io.Writer) {
	return func(w io.Writer) {
		if header {
			fmt.Fprintln(w, "INDEX\tTIME\tTYPE\tACTOR\tTARGET\tOUTCOME")
		}
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
