package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/kith-dev/kith/internal/adminclient"
)

// clientFlags are the flags every admin API command takes: where the server
// is, how to trust it, and how to print the result.
type clientFlags struct {
	o      adminclient.Overrides
	output string
	fs     *flag.FlagSet
}

// addClientFlags registers the common admin client flags on fs.
func addClientFlags(fs *flag.FlagSet) *clientFlags {
	cf := addConnFlags(fs)
	fs.StringVar(&cf.output, "o", "table", "output format: table, json or yaml")
	fs.StringVar(&cf.output, "output", "table", "same as -o")
	return cf
}

// addConnFlags registers the flags that say how to reach and trust the
// server, without -o, for commands whose output has one format.
func addConnFlags(fs *flag.FlagSet) *clientFlags {
	cf := &clientFlags{fs: fs, output: "table"}
	fs.StringVar(&cf.o.DataDir, "data", "", "the server's data folder, for its address, bundle and admin token (default $KITH_DATA or ./kith-data)")
	fs.StringVar(&cf.o.Addr, "addr", "", "host:port of the admin API (default $KITH_ADDR, the data folder's server.json, or 127.0.0.1:8443)")
	fs.StringVar(&cf.o.CABundle, "ca-bundle", "", "PEM file of roots to verify the server with (default $KITH_CA_BUNDLE or the data folder's bundle.pem)")
	fs.StringVar(&cf.o.TrustDomain, "trust-domain", "", "trust domain the server must belong to (default $KITH_TRUST_DOMAIN or the data folder's server.json)")
	return cf
}

// json reports whether machine output was asked for: JSON or YAML (see
// encode), rather than a table for people.
func (cf *clientFlags) json() bool { return cf.output == "json" || cf.output == "yaml" }

// config checks the output format and resolves the client configuration.
// It returns a usageError for an unknown format.
func (cf *clientFlags) config() (adminclient.Config, error) {
	if cf.output != "table" && cf.output != "json" && cf.output != "yaml" {
		return adminclient.Config{}, usagef(cf.fs, "-o must be table, json or yaml, not %q", cf.output)
	}
	cfg, err := adminclient.FromEnvironment(cf.o)
	if err != nil {
		return adminclient.Config{}, err
	}
	return cfg, nil
}

// client checks the output format and returns a client of the admin API.
func (cf *clientFlags) client() (*adminclient.Client, error) {
	cfg, err := cf.config()
	if err != nil {
		return nil, err
	}
	c, err := adminclient.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return c, nil
}

// runOnID is the shape of the commands that take one ID (or trust domain),
// make one admin API call with it and print what the call returns: show,
// release, refresh. name is the command as typed after "kith".
func runOnID[T any](ctx context.Context, name, synopsis, summary string, args []string, stdout, stderr io.Writer,
	call func(*adminclient.Client, context.Context, string) (*T, error), table func(io.Writer, *T)) error {
	fs := newFlagSet(name, synopsis, summary, stderr)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	v, err := call(c, ctx, pos[0])
	if err != nil {
		return err
	}
	return cf.write(stdout, v, func(w io.Writer) { table(w, v) })
}

// listSpec describes a `kith <noun> list` command: its filter flags, how to
// fetch one page or every page, and how to print what it got.
type listSpec[T any] struct {
	name    string // "entry list"
	plural  string // "entries", in help and hints
	summary string
	// flags registers the command's own filter flags; limit and after
	// point into the same filter.
	flags func(fs *flag.FlagSet)
	limit *int
	after *string
	page  func(ctx context.Context, c *adminclient.Client) ([]T, string, error)
	all   func(ctx context.Context, c *adminclient.Client) ([]T, error)
	wrap  func(items []T, next string) any // the API's list type, for -o json
	table func(w io.Writer, items []T)
}

// runList runs a list command: one page when --limit is given (with a hint
// on stderr when there are more), else every page.
func runList[T any](ctx context.Context, s listSpec[T], args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(s.name, "[flags]", s.summary, stderr)
	if s.flags != nil {
		s.flags(fs)
	}
	fs.IntVar(s.limit, "limit", 0, "list one page of at most this many "+s.plural+" (0: all "+s.plural+")")
	fs.StringVar(s.after, "after", "", "start after this cursor (the next cursor of a page)")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *s.limit < 0 {
		return usagef(fs, "--limit must not be negative")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	var items []T
	next := ""
	if *s.limit > 0 {
		items, next, err = s.page(ctx, c)
	} else {
		items, err = s.all(ctx, c)
	}
	if err != nil {
		return err
	}
	if items == nil {
		items = []T{}
	}
	err = cf.write(stdout, s.wrap(items, next), func(w io.Writer) { s.table(w, items) })
	if err == nil && next != "" && !cf.json() {
		fmt.Fprintf(stderr, "More %s: kith %s --limit %d --after %s\n", s.plural, s.name, *s.limit, next)
	}
	return err
}
