package main

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/trust"
)

// runTrust is `kith trust`: the behavioural-trust engine.
func runTrust(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "trust", []subcommand{
		{"list", "list the callers the engine tracks, lowest trust first", runTrustList},
		{"show", "show a caller's trust, what weighs on it and its recent signals", runTrustShow},
		{"history", "show a caller's signals, level changes and clears from the ledger", runTrustHistory},
		{"clear", "restore a caller's trust at once (audited)", runTrustClear},
		{"replay", "run the detectors over recorded calls and print the signals (offline)", runTrustReplay},
	}, args, stdout, stderr)
}

// runTrustReplay is `kith trust replay`.
func runTrustReplay(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trust replay", "[flags] CALLS.jsonl|-",
		"Run the trust engine's detectors over recorded calls, at their recorded times,\n"+
			"and write the signals they raise as JSON Lines on stdout. CALLS holds one call\n"+
			"a line ({\"ts\":…,\"caller\":…,\"target\":…,\"route\":…,\"status\":…,\"source\":…}),\n"+
			"or the output of `kith audit export --type call.decided`; '-' reads stdin, a\n"+
			"name ending in .gz is decompressed. A summary goes to stderr.", stderr)
	var cfg trust.ReplayConfig
	tu := &cfg.Engine.Tuning
	fs.BoolVar(&cfg.SkipInvalid, "skip-invalid", false, "skip and count malformed lines instead of stopping at the first")
	fs.DurationVar(&tu.WarmUp, "warm-up", 0, "how long a new caller only learns (default 24h)")
	fs.IntVar(&tu.MinCalls, "min-calls", 0, "fewest calls before a caller's detectors fire (default 50)")
	fs.DurationVar(&tu.Cooldown, "cooldown", 0, "how long an incident lasts after its last finding (default 30m)")
	fs.DurationVar(&tu.NewNetworkStable, "network-stable", 0, "how long without a new network before one raises source.new_network (default 24h)")
	fs.Float64Var(&tu.SpikeFactor, "spike-factor", 0, "rate.spike above this many times the caller's largest burst at this hour (default 2.5)")
	fs.Float64Var(&tu.SurpriseBits, "surprise-bits", 0, "surprisal in bits of a surprising transition (default 7)")
	disabled := &stringList{split: true}
	fs.Var(disabled, "disable", "signal kinds not to raise, such as sequence.surprise (repeatable, or comma-separated)")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	for _, name := range disabled.vs {
		k, err := trust.ParseKind(name)
		if err != nil {
			return usagef(fs, "--disable: %v", err)
		}
		tu.Disabled = append(tu.Disabled, k)
	}
	in, closeIn, err := openCalls(pos[0])
	if err != nil {
		return err
	}
	defer closeIn()
	start := time.Now()
	st, err := trust.Replay(in, stdout, cfg)
	if err != nil {
		if errors.Is(err, trust.ErrConfig) {
			return usagef(fs, "%v", err)
		}
		return fmt.Errorf("trust replay %s: %w", pos[0], err)
	}
	took := time.Since(start)
	fmt.Fprintf(stderr, "%d calls of %d callers, %d signals", st.Calls, st.Callers, st.Signals)
	if st.Skipped > 0 {
		fmt.Fprintf(stderr, "; %d lines of other events skipped", st.Skipped)
	}
	if st.Invalid > 0 {
		fmt.Fprintf(stderr, "; %d invalid lines skipped", st.Invalid)
	}
	if s := took.Seconds(); s > 0.5 {
		fmt.Fprintf(stderr, " (%.0f calls/s)", float64(st.Calls)/s)
	}
	fmt.Fprintln(stderr)
	return nil
}

// openCalls opens the replay input: a file, stdin for "-", decompressed
// when its name ends in .gz.
func openCalls(name string) (io.Reader, func(), error) {
	var f *os.File
	if name == "-" {
		f = os.Stdin
	} else {
		var err error
		if f, err = os.Open(name); err != nil {
			return nil, nil, fmt.Errorf("trust replay: %w", err)
		}
	}
	closeF := func() {
		if f != os.Stdin {
			f.Close()
		}
	}
	if !strings.HasSuffix(name, ".gz") {
		return f, closeF, nil
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		closeF()
		return nil, nil, fmt.Errorf("trust replay %s: %w", name, err)
	}
	return z, func() { z.Close(); closeF() }, nil
}
