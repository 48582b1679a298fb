package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
)

// runFederation is `kith federation`: federation with other trust domains.
func runFederation(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "federation", []subcommand{
		{"add", "federate with a foreign trust domain", runFederationAdd},
		{"list", "list federated trust domains", runFederationList},
		{"show", "show a federation and its bundle", runFederationShow},
		{"remove", "stop federating with a trust domain", runFederationRemove},
		{"refresh", "fetch a federated trust domain's bundle now", runFederationRefresh},
	}, args, stdout, stderr)
}

// runFederationAdd is `kith federation add`.
func runFederationAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("federation add", "[flags] TRUST-DOMAIN",
		"Federate with a foreign trust domain: fetch its bundle from its bundle endpoint\nand trust its SVIDs.", stderr)
	var fc api.FederationCreate
	fs.StringVar(&fc.BundleEndpointURL, "bundle-endpoint", "", "https:// URL of the foreign bundle endpoint (required)")
	fs.StringVar(&fc.Profile, "profile", "https_spiffe", "endpoint profile: https_spiffe or https_web")
	fs.StringVar(&fc.EndpointSPIFFEID, "endpoint-spiffe-id", "", "SPIFFE ID the endpoint presents (required for https_spiffe)")
	bootstrap := fs.String("bootstrap-bundle", "", "file with the foreign bundle to trust the endpoint the first time (SPIFFE JSON or PEM; https_spiffe)")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	fc.TrustDomain = pos[0]
	switch {
	case fc.BundleEndpointURL == "":
		return usagef(fs, "--bundle-endpoint is required")
	case fc.Profile != "https_spiffe" && fc.Profile != "https_web":
		return usagef(fs, "--profile must be https_spiffe or https_web, not %q", fc.Profile)
	case fc.Profile == "https_spiffe" && fc.EndpointSPIFFEID == "":
		return usagef(fs, "--endpoint-spiffe-id is required with --profile https_spiffe")
	case fc.Profile == "https_web" && (fc.EndpointSPIFFEID != "" || *bootstrap != ""):
		return usagef(fs, "--endpoint-spiffe-id and --bootstrap-bundle apply to --profile https_spiffe only")
	}
	if *bootstrap != "" {
		if fc.Bootstrap, err = readBootstrapBundle(*bootstrap, fc.TrustDomain); err != nil {
			return err
		}
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	f, err := c.AddFederation(ctx, fc)
	if err != nil {
		return err
	}
	return cf.write(stdout, f, func(w io.Writer) { writeFederation(w, f) })
}

// readBootstrapBundle returns the SPIFFE bundle in path: a SPIFFE bundle
// (JWKS) document as is, or PEM certificates made into one for td.
func readBootstrapBundle(path, td string) (json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read bootstrap bundle: %w", err)
	}
	if json.Valid(b) {
		return b, nil
	}
	id, err := spiffeid.TrustDomainFromString(td)
	if err != nil {
		return nil, fmt.Errorf("trust domain %q: %w", td, err)
	}
	xb, err := x509bundle.Parse(id, b)
	if err != nil || xb.Empty() {
		return nil, fmt.Errorf("bootstrap bundle %s is neither a SPIFFE bundle (JSON) nor PEM certificates", path)
	}
	out, err := spiffebundle.FromX509Bundle(xb).Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode bootstrap bundle: %w", err)
	}
	return out, nil
}

// runFederationList is `kith federation list`.
func runFederationList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("federation list", "[flags]", "List federated trust domains.", stderr)
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	l, err := c.ListFederations(ctx)
	if err != nil {
		return err
	}
	if l.Federations == nil {
		l.Federations = []api.Federation{}
	}
	return cf.write(stdout, l, func(w io.Writer) {
		fmt.Fprintln(w, "TRUST DOMAIN\tPROFILE\tBUNDLE ENDPOINT\tSEQUENCE\tLAST REFRESH\tLAST ERROR")
		for _, f := range l.Federations {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", f.TrustDomain, f.Profile, f.BundleEndpointURL, f.Sequence, timeText(f.LastRefresh), orDash(f.LastError))
		}
	})
}

// runFederationShow is `kith federation show`.
func runFederationShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOnID(ctx, "federation show", "[flags] TRUST-DOMAIN", "Show a federation and the state of its bundle.",
		args, stdout, stderr, (*adminclient.Client).GetFederation, writeFederation)
}

// runFederationRefresh is `kith federation refresh`.
func runFederationRefresh(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOnID(ctx, "federation refresh", "[flags] TRUST-DOMAIN", "Fetch a federated trust domain's bundle now and show the result.",
		args, stdout, stderr, (*adminclient.Client).RefreshFederation, writeFederation)
}

// runFederationRemove is `kith federation remove`.
func runFederationRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("federation remove", "[flags] TRUST-DOMAIN", "Stop federating with a trust domain.", stderr)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	if err := c.RemoveFederation(ctx, pos[0]); err != nil {
		return err
	}
	if !cf.json() {
		fmt.Fprintf(stdout, "Removed federation with %s.\n", pos[0])
	}
	return nil
}

// writeFederation prints f as a two-column table.
func writeFederation(w io.Writer, f *api.Federation) {
	fmt.Fprintf(w, "Trust domain:\t%s\n", f.TrustDomain)
	fmt.Fprintf(w, "Bundle endpoint:\t%s\n", f.BundleEndpointURL)
	fmt.Fprintf(w, "Profile:\t%s\n", f.Profile)
	fmt.Fprintf(w, "Endpoint SPIFFE ID:\t%s\n", orDash(f.EndpointSPIFFEID))
	fmt.Fprintf(w, "Sequence:\t%d\n", f.Sequence)
	fmt.Fprintf(w, "Last refresh:\t%s\n", timeText(f.LastRefresh))
	fmt.Fprintf(w, "Next refresh:\t%s\n", timeText(f.NextRefresh))
	fmt.Fprintf(w, "Last error:\t%s\n", orDash(f.LastError))
	fmt.Fprintf(w, "Bundle:\t%s\n", bundleSummary(f.TrustDomain, f.Bundle))
}

// bundleSummary counts the authorities of the SPIFFE bundle raw of td.
func bundleSummary(td string, raw json.RawMessage) string {
	if len(raw) == 0 {
		return "none yet"
	}
	id, err := spiffeid.TrustDomainFromString(td)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	b, err := spiffebundle.Parse(id, raw)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return fmt.Sprintf("%d X.509 authorities, %d JWT authorities", len(b.X509Authorities()), len(b.JWTAuthorities()))
}
