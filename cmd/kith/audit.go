package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/ledger"
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
	}, args, stdout, stderr)
}

// auditPageSize is the page size audit tail reads with (the server's cap).
const auditPageSize = 1000

// runAuditTail is `kith audit tail`.
func runAuditTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit tail", "[flags]", "List the most recent audit events, oldest first.", stderr)
	var f adminclient.EventFilter
	fs.StringVar(&f.Type, "type", "", "only events of this type, such as entry.created")
	n := fs.Int("limit", 20, "number of events to list")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
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
			var ev ledger.Event
			if err := json.Unmarshal(e.Event, &ev); err != nil {
				fmt.Fprintf(w, "%d\t(unreadable event: %v)\n", e.Index, err)
				continue
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Index, timeText(ev.Time), ev.Type, orDash(ev.Actor.ID), orDash(ev.Target), ev.Outcome)
		}
	}
}
