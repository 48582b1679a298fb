package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kith-dev/kith/internal/workloadfetch"
)

// runWorkload is `kith workload`: the SPIFFE Workload API, as a workload.
func runWorkload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "workload", []subcommand{
		{"fetch", "fetch this process's SVIDs or bundles from the Workload API", runWorkloadFetch},
	}, args, stdout, stderr)
}

// runWorkloadFetch is `kith workload fetch`.
func runWorkloadFetch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "workload fetch", []subcommand{
		{"x509", "fetch X509-SVIDs and their bundles (--write saves them as PEM files)", runWorkloadFetchX509},
		{"jwt", "fetch JWT-SVIDs for an audience", runWorkloadFetchJWT},
		{"bundle", "fetch the trust bundles", runWorkloadFetchBundle},
	}, args, stdout, stderr)
}

// workloadFlags are the flags of the workload fetch commands.
type workloadFlags struct {
	socket  string
	output  string
	timeout time.Duration
}

// workloadFetchFlags registers --socket, -o (formats, default def) and
// --timeout on fs.
func workloadFetchFlags(fs *flag.FlagSet, formats, def string) *workloadFlags {
	f := &workloadFlags{}
	fs.StringVar(&f.socket, "socket", "", "the Workload API, a path or unix:///path (default $SPIFFE_ENDPOINT_SOCKET)")
	fs.StringVar(&f.output, "o", def, "output format: "+formats)
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "give up after this long")
	return f
}

// check returns the Workload API's address, or a usage error when there
// is none or -o is not one of formats.
func (f *workloadFlags) check(fs *flag.FlagSet, formats ...string) (string, error) {
	if !slices.Contains(formats, f.output) {
		return "", usagef(fs, "-o must be %s, not %q", strings.Join(formats, ", "), f.output)
	}
	addr := workloadAddr(f.socket)
	if addr == "" {
		return "", usagef(fs, "give --socket or set SPIFFE_ENDPOINT_SOCKET")
	}
	return addr, nil
}

// runWorkloadFetchX509 is `kith workload fetch x509`.
func runWorkloadFetchX509(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("workload fetch x509", "[--socket ADDR] [--write DIR] [flags]",
		"Fetch this process's X509-SVIDs and trust bundles from the Workload API, like\n"+
			"spire-agent api fetch x509. --write saves them in DIR as svid.N.pem, svid.N.key,\n"+
			"bundle.N.pem and federated_bundle.N.M.pem.", stderr)
	f := workloadFetchFlags(fs, "table, json or yaml", "table")
	write := fs.String("write", "", "write the SVIDs, keys and bundles as PEM files into this folder")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	addr, err := f.check(fs, "table", "json", "yaml")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	r, err := workloadfetch.FetchX509(ctx, addr)
	if err != nil {
		return err
	}
	var files []string
	if *write != "" {
		if files, err = workloadfetch.WriteX509(*write, r.Context); err != nil {
			return fmt.Errorf("--write: %w", err)
		}
	}
	if f.output != "table" {
		return writeAs(stdout, f.output, r)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, s := range r.SVIDs {
		fmt.Fprintf(tw, "SPIFFE ID:\t%s\n", s.SPIFFEID)
		if s.Hint != "" {
			fmt.Fprintf(tw, "Hint:\t%s\n", s.Hint)
		}
		fmt.Fprintf(tw, "Serial:\t%s\n", s.SerialNumber)
		fmt.Fprintf(tw, "Valid until:\t%s\n", timeText(s.NotAfter))
		fmt.Fprintf(tw, "Intermediates:\t%d\n", s.Intermediates)
		fmt.Fprintf(tw, "Bundle:\t%d authorities\n", s.Bundle)
		fmt.Fprintln(tw)
	}
	fmt.Fprintf(tw, "Federated with:\t%s\n", list(r.FederatedWith))
	for _, p := range files {
		fmt.Fprintf(tw, "Wrote:\t%s\n", p)
	}
	return tw.Flush()
}

// runWorkloadFetchJWT is `kith workload fetch jwt`.
func runWorkloadFetchJWT(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("workload fetch jwt", "--audience AUD... [--spiffe-id ID] [flags]",
		"Fetch JWT-SVIDs for an audience from the Workload API, like spire-agent api fetch\n"+
			"jwt. Prints each token alone, one a line (-o json: with its SPIFFE ID and expiry).", stderr)
	f := workloadFetchFlags(fs, "table (the tokens alone), json or yaml", "table")
	var audiences stringList
	fs.Var(&audiences, "audience", "an audience of the token (repeatable; the first is its audience, the others extra)")
	spiffeID := fs.String("spiffe-id", "", "the SPIFFE ID to get a token for, when the process has several")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if len(audiences.vs) == 0 {
		return usagef(fs, "--audience is required")
	}
	addr, err := f.check(fs, "table", "json", "yaml")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	svids, err := workloadfetch.FetchJWT(ctx, addr, audiences.vs, *spiffeID)
	if err != nil {
		return err
	}
	if f.output != "table" {
		return writeAs(stdout, f.output, svids)
	}
	for _, s := range svids {
		fmt.Fprintln(stdout, s.Token)
	}
	return nil
}

// runWorkloadFetchBundle is `kith workload fetch bundle`.
func runWorkloadFetchBundle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("workload fetch bundle", "[-o json|yaml|pem] [flags]",
		"Fetch the trust bundles the Workload API gives this process: each trust domain's\n"+
			"SPIFFE bundle (-o json, keyed by trust domain), or its X.509 authorities (-o pem).", stderr)
	f := workloadFetchFlags(fs, "json (SPIFFE bundles), yaml or pem (X.509 authorities)", "json")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	addr, err := f.check(fs, "json", "yaml", "pem")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	b, err := workloadfetch.FetchBundles(ctx, addr)
	if err != nil {
		return err
	}
	if f.output == "pem" {
		for _, td := range b.TrustDomains() {
			if _, err := stdout.Write(b.PEM(td)); err != nil {
				return err
			}
		}
		return nil
	}
	out := map[string]json.RawMessage{}
	for _, td := range b.TrustDomains() {
		raw, err := b.SPIFFEBundle(td).Marshal()
		if err != nil {
			return fmt.Errorf("bundle of %s: %w", td, err)
		}
		out[td.Name()] = raw
	}
	return writeAs(stdout, f.output, out)
}
