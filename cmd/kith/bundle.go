package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/adminclient"
)

// runBundle is `kith bundle`: the trust domain's bundle.
func runBundle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "bundle", []subcommand{
		{"show", "print the trust domain's bundle", runBundleShow},
	}, args, stdout, stderr)
}

// runBundleShow is `kith bundle show`.
func runBundleShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bundle show", "[-o json|yaml|pem] [flags]",
		"Print the trust domain's bundle: the SPIFFE bundle as served (-o json), or its\nX.509 authorities (-o pem).", stderr)
	cf := addConnFlags(fs)
	format := "json"
	fs.StringVar(&format, "o", "json", "output format: json (the SPIFFE bundle), yaml (the same in YAML) or pem (the X.509 authorities)")
	fs.StringVar(&format, "output", "json", "same as -o")
	fs.Func("format", "deprecated: use -o", func(v string) error {
		format = v
		fmt.Fprintln(stderr, "kith: bundle show: --format is deprecated: use -o "+v)
		return nil
	})
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if format != "json" && format != "yaml" && format != "pem" {
		return usagef(fs, "-o must be json, yaml or pem, not %q", format)
	}
	cfg, err := cf.config()
	if err != nil {
		return err
	}
	c, err := adminclient.New(cfg)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	raw, err := c.Bundle(ctx)
	if err != nil {
		return err
	}
	if format == "yaml" {
		return writeYAML(stdout, json.RawMessage(raw))
	}
	if format == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("bundle is not JSON: %w", err)
		}
		buf.WriteByte('\n')
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	if cfg.TrustDomain == "" {
		return usagef(fs, "the trust domain is unknown: give --trust-domain, set KITH_TRUST_DOMAIN or --data")
	}
	td, err := spiffeid.TrustDomainFromString(cfg.TrustDomain)
	if err != nil {
		return fmt.Errorf("trust domain: %w", err)
	}
	b, err := spiffebundle.Parse(td, raw)
	if err != nil {
		return fmt.Errorf("parse bundle: %w", err)
	}
	for _, cert := range b.X509Authorities() {
		if err := pem.Encode(stdout, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}); err != nil {
			return err
		}
	}
	return nil
}
