package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/audit"
)

// callerSynopsis is the argument of the trust commands.
const callerSynopsis = "[flags] SPIFFE-ID|ENTRY-ID|CLIENT-ID"

// byCaller adapts a client method on a caller's identity to take a
// reference a person types (see adminclient.Client.ResolveCaller).
func byCaller[T any](call func(*adminclient.Client, context.Context, string) (*T, error)) func(*adminclient.Client, context.Context, string) (*T, error) {
	return func(c *adminclient.Client, ctx context.Context, ref string) (*T, error) {
		id, err := c.ResolveCaller(ctx, ref)
		if err != nil {
			return nil, err
		}
		return call(c, ctx, id)
	}
}

// runTrustShow is `kith trust show`.
func runTrustShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOnID(ctx, "trust show", callerSynopsis,
		"Show a caller's trust: score and level, what weighs on it (credential, signals,\n"+
			"context inputs) with the points of each, and its signals of the last day with\n"+
			"their evidence.", args, stdout, stderr, byCaller((*adminclient.Client).GetTrust), writeTrustState)
}

// writeTrustState prints a trust state as a table.
func writeTrustState(w io.Writer, st *api.TrustState) {
	fmt.Fprintf(w, "Identity:\t%s\n", st.Identity)
	fmt.Fprintf(w, "Score:\t%d\n", st.Score)
	fmt.Fprintf(w, "Level:\t%s\n", st.Level)
	fmt.Fprintf(w, "Signals:\t%s\n", list(st.Signals))
	state := "tracked"
	switch {
	case !st.Known:
		state = "never seen (the starting state of its credential)"
	case st.WarmingUp:
		state = "learning (no detector fires yet)"
	}
	fmt.Fprintf(w, "State:\t%s\n", state)
	if st.Known {
		fmt.Fprintf(w, "Calls:\t%d (%s to %s)\n", st.Calls, timeText(st.FirstSeen), timeText(st.LastSeen))
	}
	for _, r := range st.Reasons {
		fmt.Fprintf(w, "Reason:\t%+d %s %s", r.Points, r.Kind, r.Name)
		if r.Detail != "" {
			fmt.Fprintf(w, ": %s", r.Detail)
		}
		fmt.Fprintln(w)
	}
	for _, c := range st.Contexts {
		fmt.Fprintf(w, "Context:\t%s %s -%d until %s: %s (%s)\n", c.ID, c.Kind, c.Weight, timeText(c.Expires), c.Reason, orDash(c.Source))
	}
	for _, s := range st.RecentSignals {
		fmt.Fprintf(w, "Signal:\t%s %s %s: expected %s, seen %s\n", timeText(s.Time), s.Kind, s.Severity, s.Evidence["expected"], s.Evidence["seen"])
	}
}

// runTrustList is `kith trust list`.
func runTrustList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trust list", "[flags]", "List the callers the trust engine tracks, lowest score first.", stderr)
	var f adminclient.TrustFilter
	fs.StringVar(&f.Level, "level", "", "only callers at this level: high, medium, low or untrusted")
	fs.StringVar(&f.Identity, "identity", "", "only callers whose identity contains this")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	out, err := c.ListTrust(ctx, f)
	if err != nil {
		return err
	}
	return cf.write(stdout, out, func(w io.Writer) {
		fmt.Fprintln(w, "IDENTITY\tSCORE\tLEVEL\tSIGNALS")
		for _, st := range out.States {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", st.Identity, st.Score, st.Level, list(st.Signals))
		}
	})
}

// runTrustHistory is `kith trust history`.
func runTrustHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trust history", callerSynopsis,
		"Show a caller's trust history from the audit ledger: its signals, level changes,\n"+
			"clears and context inputs, oldest first.", stderr)
	limit := fs.Int("limit", 0, "at most this many events (default: the server's page)")
	after := fs.Int64("after", -1, "only events after this ledger index")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	id, err := c.ResolveCaller(ctx, pos[0])
	if err != nil {
		return err
	}
	out, err := c.TrustHistory(ctx, id, *after, *limit)
	if err != nil {
		return err
	}
	return cf.write(stdout, out, func(w io.Writer) {
		fmt.Fprintln(w, "INDEX\tTIME\tTYPE\tBY\tWHAT\tWHY")
		for _, e := range out.Events {
			var ev audit.Event
			if err := json.Unmarshal(e.Event, &ev); err != nil {
				fmt.Fprintf(w, "%d\t-\t(unreadable)\t\t\t\n", e.Index)
				continue
			}
			what := ev.Action
			switch ev.Type {
			case "trust.signal":
				what = ev.Details["kind"] + " " + ev.Details["severity"]
			case "trust.level_changed":
				what = fmt.Sprintf("%s %s → %s %s (%s)", ev.Details["from_level"], ev.Details["from_score"], ev.Details["to_level"], ev.Details["to_score"], ev.Action)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Index, timeText(ev.Time), ev.Type, orDash(ev.Actor.ID), what, orDash(ev.Reason))
		}
	})
}

// runTrustClear is `kith trust clear`.
func runTrustClear(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trust clear", callerSynopsis,
		"Restore a caller's trust at once: its signals' weight and its context inputs are\n"+
			"dropped (what the engine learned of it stays). The ledger records who cleared it\n"+
			"and why; every proxy has the new state within a second.", stderr)
	reason := fs.String("reason", "", "why, for the audit ledger")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	id, err := c.ResolveCaller(ctx, pos[0])
	if err != nil {
		return err
	}
	st, err := c.ClearTrust(ctx, id, *reason)
	if err != nil {
		return err
	}
	return cf.write(stdout, st, func(w io.Writer) { writeTrustState(w, st) })
}

// runSignal is `kith signal`: the trust engine's signals.
func runSignal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "signal", []subcommand{
		{"list", "list the trust engine's signals with their evidence", runSignalList},
	}, args, stdout, stderr)
}

// runSignalList is `kith signal list`.
func runSignalList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("signal list", "[flags]", "List the trust engine's signals, oldest first, with their evidence.", stderr)
	f := adminclient.SignalFilter{After: -1}
	var identity string
	fs.StringVar(&identity, "identity", "", "only this caller's signals (SPIFFE ID, entry ID or client ID)")
	fs.StringVar(&f.Kind, "kind", "", "only signals of this kind, such as rate.spike")
	since := fs.Duration("since", 0, "only signals of the last duration, such as 24h (default: all)")
	fs.Int64Var(&f.After, "after", -1, "only signals after this ledger index")
	fs.IntVar(&f.Limit, "limit", 0, "at most this many signals (default: the server's page)")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *since < 0 {
		return usagef(fs, "--since must not be negative")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	if identity != "" {
		if f.Identity, err = c.ResolveCaller(ctx, identity); err != nil {
			return err
		}
	}
	if *since > 0 {
		f.Since = time.Now().Add(-*since)
	}
	out, err := c.ListSignals(ctx, f)
	if err != nil {
		return err
	}
	return cf.write(stdout, out, func(w io.Writer) {
		fmt.Fprintln(w, "INDEX\tTIME\tIDENTITY\tKIND\tSEVERITY\tEVIDENCE")
		for _, s := range out.Signals {
			var ev []string
			for _, k := range []string{"expected", "seen"} {
				if v, ok := s.Evidence[k]; ok {
					ev = append(ev, k+": "+v)
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", strconv.FormatInt(s.Index, 10), timeText(s.Time), s.Identity, s.Kind, s.Severity, strings.Join(ev, "; "))
		}
	})
}
