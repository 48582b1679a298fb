package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kith-dev/kith/internal/trust/simulate"
)

// simulateFlags are the flags of `kith simulate`.
type simulateFlags struct {
	out, labels, start, scenarios string
	verbose                       bool
	evaluate                      bool
	calls, output                 string
	signals                       multiFlag
	grace                         time.Duration
	cfg                           simulate.Config
	base                          simulate.BaselineConfig
}

// runSimulate is `kith simulate`: generate labelled traffic, or evaluate
// a detector's signals on it.
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("simulate", "[--out CALLS.jsonl] [--labels LABELS.jsonl] [--days 7] [--services 30] [--seed N] [--rate 1]\n"+
		"   or: kith simulate --evaluate --calls CALLS.jsonl --labels LABELS.jsonl [--signals SIGNALS.jsonl ...] [-o table|json]",
		"Generate simulated service-to-service traffic of one trust domain, days of it in\n"+
			"seconds, with attacks injected after a warm-up: calls in the replay format (the\n"+
			"input of kith trust replay) and one label per attack. The same flags write the\n"+
			"same bytes.\n\n"+
			"With --evaluate, score a detector's signals (the output of kith trust replay)\n"+
			"against the labels: per attack detected or not, time and requests to detection;\n"+
			"benign caller-hours with a false alarm. A naive per-caller rate limit is scored\n"+
			"on the same calls for comparison.", stderr)
	var f simulateFlags
	fs.StringVar(&f.out, "out", "-", "file to write the calls to (- for standard output)")
	fs.StringVar(&f.labels, "labels", "", "file of the labels, one attack a line (default: beside --out, NAME.labels.jsonl)")
	fs.Uint64Var(&f.cfg.Seed, "seed", 1, "seed of the world, its traffic and its attacks")
	fs.IntVar(&f.cfg.Days, "days", 7, "simulated days")
	fs.IntVar(&f.cfg.Services, "services", 30, "services at the start (12 to 1000); one more starts mid-run")
	fs.Float64Var(&f.cfg.Rate, "rate", 1, "scale of the request-driven traffic (1: about 14,000 calls per service and day)")
	fs.StringVar(&f.start, "start", "2026-12-07T00:00:00Z", "simulated time of the first call, RFC 3339")
	fs.DurationVar(&f.cfg.WarmUp, "warmup", 0, "attack-free start of the run (default 48h, or a third of a shorter run)")
	fs.StringVar(&f.scenarios, "scenarios", "all", "comma-separated attacks to inject, all, or none: "+strings.Join(simulate.Scenarios(), ", "))
	fs.BoolVar(&f.verbose, "v", false, "list every benign event (deploys, outages) in the summary")
	fs.BoolVar(&f.evaluate, "evaluate", false, "evaluate signals instead of generating traffic")
	fs.StringVar(&f.calls, "calls", "", "with --evaluate: the calls file")
	fs.Var(&f.signals, "signals", "with --evaluate: a detector's signals file (repeatable; default: the baseline only)")
	fs.DurationVar(&f.grace, "grace", 0, "with --evaluate: how long after an attack a signal still detects it (default 15m)")
	fs.StringVar(&f.output, "o", "table", "with --evaluate: output format, table, json or yaml")
	fs.DurationVar(&f.base.Learn, "baseline-learn", 0, "with --evaluate: how long the naive rate limit learns each caller's busiest minute (default 24h)")
	fs.Float64Var(&f.base.Headroom, "baseline-headroom", 0, "with --evaluate: the naive limit is this times the busiest minute (default 1.5)")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if f.evaluate {
		return runEvaluate(fs, &f, stdout)
	}
	switch {
	case f.calls != "" || len(f.signals) > 0:
		return usagef(fs, "--calls and --signals go with --evaluate")
	case f.labels == "" && f.out == "-":
		return usagef(fs, "--labels is required when the calls go to standard output")
	case f.labels == "":
		f.labels = strings.TrimSuffix(f.out, filepath.Ext(f.out)) + ".labels.jsonl"
	}
	start, err := time.Parse(time.RFC3339, f.start)
	if err != nil {
		return usagef(fs, "--start: %v", err)
	}
	f.cfg.Start = start
	switch f.scenarios {
	case "all":
	case "none", "":
		f.cfg.Scenarios = []string{}
	default:
		f.cfg.Scenarios = strings.Split(f.scenarios, ",")
	}
	report := stdout
	if f.out == "-" {
		report = stderr
	}
	var sum *simulate.Summary
	err = writeFileAtomic(f.labels, func(labels io.Writer) error {
		f.cfg.Labels = labels
		if f.out == "-" {
			bw := bufio.NewWriter(stdout)
			f.cfg.Calls = bw
			if sum, err = simulate.Run(ctx, f.cfg); err != nil {
				return err
			}
			return bw.Flush()
		}
		return writeFileAtomic(f.out, func(calls io.Writer) error {
			f.cfg.Calls = calls
			sum, err = simulate.Run(ctx, f.cfg)
			return err
		})
	})
	if err != nil {
		return simulateError(fs, err)
	}
	printSummary(report, sum, f.out, f.labels, f.verbose)
	return nil
}

// simulateError returns err, as a usage error if the configuration was
// invalid.
func simulateError(fs *flag.FlagSet, err error) error {
	if strings.Contains(err.Error(), simulate.ErrConfig.Error()) {
		return usagef(fs, "%s", strings.TrimPrefix(err.Error(), simulate.ErrConfig.Error()+": "))
	}
	return err
}

// printSummary tells what a run wrote and which benign events it holds.
func printSummary(w io.Writer, s *simulate.Summary, out, labels string, verbose bool) {
	if out == "-" {
		out = "standard output"
	}
	fmt.Fprintf(w, "Wrote %d calls of %d services from %s to %s to %s.\n", s.Calls, s.Services,
		s.Start.Format(time.RFC3339), s.End.Format(time.RFC3339), out)
	fmt.Fprintf(w, "Wrote %d labels to %s:\n", len(s.Labels), labels)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range s.Labels {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%v\n", l.Scenario, l.Identity, l.Start.Format(time.RFC3339), l.End.Sub(l.Start).Round(time.Second))
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "Benign events (a detector should take them in its stride):")
	hidden := map[string]int{}
	for _, e := range s.Events {
		if !verbose && (e.Kind == "deploy" || e.Kind == "incident" || e.Kind == "node_replaced") {
			hidden[e.Kind]++
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Kind, orDash(e.Service), e.Detail)
	}
	_ = tw.Flush()
	if len(hidden) > 0 {
		fmt.Fprintf(w, "  and %d deploys, %d outages, %d node replacements (-v lists them)\n", hidden["deploy"], hidden["incident"], hidden["node_replaced"])
	}
}

// runEvaluate is `kith simulate --evaluate`.
func runEvaluate(fs *flag.FlagSet, f *simulateFlags, stdout io.Writer) error {
	switch {
	case f.calls == "" || f.labels == "":
		return usagef(fs, "--evaluate needs --calls and --labels")
	case f.output != "table" && f.output != "json" && f.output != "yaml":
		return usagef(fs, "-o must be table, json or yaml, not %q", f.output)
	}
	labels, err := readWith(f.labels, simulate.ReadLabels)
	if err != nil {
		return err
	}
	var sets []simulate.SignalSet
	for _, path := range f.signals {
		sigs, err := readWith(path, simulate.ReadSignals)
		if err != nil {
			return err
		}
		sets = append(sets, simulate.SignalSet{Name: path, Signals: sigs})
	}
	base, err := readWith(f.calls, func(r io.Reader) ([]simulate.Signal, error) { return simulate.RunBaseline(r, f.base) })
	if err != nil {
		return err
	}
	sets = append(sets, simulate.SignalSet{Name: "naive per-caller rate limit", Signals: base})
	reports, err := readWith(f.calls, func(r io.Reader) ([]simulate.Report, error) {
		return simulate.Evaluate(r, labels, sets, simulate.EvalConfig{Grace: f.grace})
	})
	if err != nil {
		return err
	}
	if f.output == "json" || f.output == "yaml" {
		return writeAs(stdout, f.output, reports)
	}
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		printReport(stdout, &r)
	}
	return nil
}

// readWith opens path and reads it with read.
func readWith[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	file, err := os.Open(path)
	if err != nil {
		return zero, err
	}
	defer file.Close()
	v, err := read(bufio.NewReaderSize(file, 1<<20))
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// printReport prints one detector's evaluation as a table.
func printReport(w io.Writer, r *simulate.Report) {
	fmt.Fprintf(w, "Detector: %s (%d signals)\n", r.Detector, r.Signals)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tIDENTITY\tDETECTED\tTIME\tREQUESTS\tCALLS\tFIRST SIGNAL")
	for _, a := range r.Attacks {
		det, tt, kind := "no", "-", "-"
		if a.Detected {
			det, tt, kind = "yes", a.TimeToDetect.Round(time.Millisecond).String(), a.First.Kind
			if a.MetGoal {
				det = "yes, in goal"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", a.Label.Scenario, a.Label.Identity, det, tt, a.Requests, a.AttackCalls, kind)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "Detected %d of %d (%d within the goal)", r.Detected, len(r.Attacks), r.MetGoal)
	if r.Detected > 0 {
		fmt.Fprintf(w, "; median %v and %.1f requests to detection", r.MedianTimeToDetect.Round(time.Millisecond), r.MedianRequests)
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintf(w, "False alarms: %d of %d benign caller-hours (%.3f%%); %d stray signals.\n",
		r.FlaggedCallerHours, r.BenignCallerHours, 100*r.FalseAlarmRate, r.Stray)
}
