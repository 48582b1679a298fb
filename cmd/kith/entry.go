package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/entryfile"
)

// runEntry is `kith entry`: manage workload entries.
func runEntry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "entry", []subcommand{
		{"create", "register a workload entry", runEntryCreate},
		{"list", "list workload entries", runEntryList},
		{"show", "show a workload entry", runEntryShow},
		{"update", "change the given fields of a workload entry", runEntryUpdate},
		{"delete", "delete a workload entry", runEntryDelete},
		{"revoke", "revoke the credentials issued so far for an entry", runEntryRevoke},
		{"quarantine", "stop issuance for an entry and revoke its credentials", runEntryQuarantine},
		{"release", "issue credentials for a quarantined entry again", runEntryRelease},
		{"export", "print entries as a file that entry create -f reads back", runEntryExport},
	}, args, stdout, stderr)
}

// runEntryCreate is `kith entry create`.
func runEntryCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("entry create", "--spiffe-id ID --selector TYPE:VALUE... [flags] | -f FILE",
		"Register a workload entry: processes matching all selectors get the SPIFFE ID.\n"+
			"With -f, register every entry of FILE, a YAML or JSON list of entries with the\n"+
			"API's field names (as kith entry export writes it): the whole file is checked\n"+
			"before anything is stored, and all its entries are stored in one transaction.", stderr)
	ef := addEntryFlags(fs, false)
	file := fs.String("f", "", "a YAML or JSON file of entries to create, all or none")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *file != "" {
		var probe api.Entry
		if ef.apply(fs, &probe) > 0 {
			return usagef(fs, "-f takes the entries from the file: give no entry flags with it")
		}
		return createEntriesFromFile(ctx, cf, *file, stdout)
	}
	if ef.spiffeID == "" {
		return usagef(fs, "--spiffe-id is required")
	}
	if len(ef.selectors.vs) == 0 {
		return usagef(fs, "at least one --selector is required")
	}
	var e api.Entry
	ef.apply(fs, &e)
	c, err := cf.client()
	if err != nil {
		return err
	}
	created, err := c.CreateEntry(ctx, e)
	if err != nil {
		return err
	}
	if created.ParentID == "" && !created.AnyAgent && !cf.json() {
		fmt.Fprintln(stderr, "Note: no agent serves this entry (no --parent): its SVIDs come only from kith svid mint, and OAuth clients may use it.\n"+
			"To have an agent deliver it, give --parent AGENT-SPIFFE-ID, or --parent any to let every agent serve it.")
	}
	return cf.write(stdout, created, func(w io.Writer) { writeEntry(w, created) })
}

// runEntryList is `kith entry list`.
func runEntryList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f adminclient.EntryFilter
	return runList(ctx, listSpec[api.Entry]{
		name: "entry list", plural: "entries", summary: "List workload entries, all of them unless --limit is given.",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&f.SPIFFEID, "spiffe-id", "", "only entries with this SPIFFE ID")
			fs.StringVar(&f.ParentID, "parent", "", "only entries with this parent ID")
			fs.BoolVar(&f.AnyAgent, "any-agent", false, "only entries every agent may serve (--parent any)")
			fs.StringVar(&f.Status, "status", "", "only entries with this status")
		},
		limit: &f.Limit, after: &f.After,
		page: func(ctx context.Context, c *adminclient.Client) ([]api.Entry, string, error) {
			p, err := c.ListEntries(ctx, f)
			if err != nil {
				return nil, "", err
			}
			return p.Entries, p.Next, nil
		},
		all:  func(ctx context.Context, c *adminclient.Client) ([]api.Entry, error) { return c.ListAllEntries(ctx, f) },
		wrap: func(items []api.Entry, next string) any { return api.EntryList{Entries: items, Next: next} },
		table: func(w io.Writer, items []api.Entry) {
			fmt.Fprintln(w, "ID\tSPIFFE ID\tPARENT\tSELECTORS\tSTATUS\tOWNER")
			for _, e := range items {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.SPIFFEID, parentText(e), list(e.Selectors), orDash(e.Status), orDash(e.Owner))
			}
		},
	}, args, stdout, stderr)
}

// runEntryShow is `kith entry show`.
func runEntryShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOnID(ctx, "entry show", "[flags] ID|SPIFFE-ID", "Show a workload entry.", args, stdout, stderr,
		byEntryRef((*adminclient.Client).GetEntry), writeEntry)
}

// runEntryUpdate is `kith entry update`.
func runEntryUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("entry update", "[flags] ID|SPIFFE-ID",
		"Change the given fields of a workload entry; the others keep their value.\n"+
			"A list flag (--selector, --max-scope, --label) replaces the whole list.", stderr)
	ef := addEntryFlags(fs, true)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	var probe api.Entry
	if ef.apply(fs, &probe) == 0 {
		return usagef(fs, "nothing to change: give at least one entry flag")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	e, err := byEntryRef((*adminclient.Client).GetEntry)(c, ctx, pos[0])
	if err != nil {
		return err
	}
	ef.apply(fs, e)
	updated, err := c.UpdateEntry(ctx, *e) // carries the revision read: 409 if it changed since
	if err != nil {
		return err
	}
	return cf.write(stdout, updated, func(w io.Writer) { writeEntry(w, updated) })
}

// runEntryDelete is `kith entry delete`.
func runEntryDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("entry delete", "[--cascade] [flags] ID|SPIFFE-ID",
		"Delete a workload entry. An entry that OAuth clients act for is kept unless\n"+
			"--cascade deletes them first (each deletion is recorded in the ledger).", stderr)
	cascade := fs.Bool("cascade", false, "delete the OAuth clients that act for the entry too, revoking their tokens")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	id, err := resolveEntry(ctx, c, pos[0])
	if err != nil {
		return err
	}
	if !*cascade {
		if err := c.DeleteEntry(ctx, id); err != nil {
			var p *api.Problem
			if errors.As(err, &p) && p.Status == http.StatusConflict {
				return fmt.Errorf("%w (kith entry delete --cascade)", err)
			}
			return entryHint(err)
		}
		if !cf.json() {
			fmt.Fprintf(stdout, "Deleted entry %s.\n", id)
		}
		return nil
	}
	del, err := c.DeleteEntryCascade(ctx, id)
	if err != nil {
		return entryHint(err)
	}
	return cf.write(stdout, del, func(w io.Writer) {
		if len(del.DeletedClients) == 0 {
			fmt.Fprintf(w, "Deleted entry %s.\n", del.ID)
			return
		}
		fmt.Fprintf(w, "Deleted entry %s and the OAuth client(s) acting for it: %s.\n", del.ID, strings.Join(del.DeletedClients, ", "))
	})
}

// byEntryRef returns call with its entry named by ID or SPIFFE ID (see
// resolveEntry), and a hint when there is no such entry.
func byEntryRef[T any](call func(*adminclient.Client, context.Context, string) (*T, error)) func(*adminclient.Client, context.Context, string) (*T, error) {
	return func(c *adminclient.Client, ctx context.Context, ref string) (*T, error) {
		id, err := resolveEntry(ctx, c, ref)
		if err != nil {
			return nil, err
		}
		v, err := call(c, ctx, id)
		return v, entryHint(err)
	}
}

// resolveEntry returns the ID of the entry ref names: an entry ID, or a
// SPIFFE ID that exactly one entry has.
func resolveEntry(ctx context.Context, c *adminclient.Client, ref string) (string, error) {
	id, err := c.ResolveEntry(ctx, ref)
	return id, entryHint(err)
}

// entryHint adds to an error saying there is no such entry where to find
// the entries.
func entryHint(err error) error {
	var p *api.Problem
	if errors.Is(err, adminclient.ErrNoEntry) || (errors.As(err, &p) && p.Status == http.StatusNotFound) {
		return fmt.Errorf("%w (kith entry list shows the entries)", err)
	}
	return err
}

// writeEntry prints e as a two-column table.
func writeEntry(w io.Writer, e *api.Entry) {
	labels := make([]string, 0, len(e.Labels))
	for _, k := range slices.Sorted(maps.Keys(e.Labels)) {
		labels = append(labels, k+"="+e.Labels[k])
	}
	rows := [][2]string{
		{"ID", e.ID},
		{"SPIFFE ID", e.SPIFFEID},
		{"Parent ID", parentText(*e)},
		{"Selectors", list(e.Selectors)},
		{"Status", orDash(e.Status)},
		{"Owner", orDash(e.Owner)},
		{"Business function", orDash(e.BusinessFunction)},
		{"Description", orDash(e.Description)},
		{"Max scopes", list(e.MaxScopes)},
		{"X509-SVID TTL", ttlText(e.X509SVIDTTL)},
		{"JWT-SVID TTL", ttlText(e.JWTSVIDTTL)},
		{"Labels", list(labels)},
		{"Created", timeText(e.CreatedAt)},
		{"Updated", timeText(e.UpdatedAt)},
		{"Revision", fmt.Sprint(e.Revision)},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s:\t%s\n", r[0], strings.ReplaceAll(r[1], "\n", " "))
	}
}

// parentText says which agents serve e: its parent, "any agent" for the
// opt-in, "-" for none.
func parentText(e api.Entry) string {
	if e.AnyAgent && e.ParentID == "" {
		return "any agent"
	}
	return orDash(e.ParentID)
}

// ttlText formats an entry TTL; zero is the server default.
func ttlText(d api.Duration) string {
	if d == 0 {
		return "server default"
	}
	return time.Duration(d).String()
}

// createEntriesFromFile is `kith entry create -f FILE`: every entry of
// the file, in one transaction; a problem the server finds is told at
// the entry's line.
func createEntriesFromFile(ctx context.Context, cf *clientFlags, file string, stdout io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("entry create: %w", err)
	}
	items, err := entryfile.Parse(file, data)
	if err != nil {
		return err
	}
	entries := make([]api.Entry, len(items))
	for i, it := range items {
		entries[i] = it.Entry
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	created, err := c.CreateEntries(ctx, entries)
	if err != nil {
		var p *api.Problem
		if errors.As(err, &p) {
			if m := batchIndex.FindStringSubmatch(p.Field); m != nil {
				i, _ := strconv.Atoi(m[1])
				if i < len(items) {
					return fmt.Errorf("%s:%d:%d: %s (nothing was created)", file, items[i].Line, items[i].Column, p.Detail)
				}
			}
		}
		return fmt.Errorf("%w (nothing was created)", err)
	}
	return cf.write(stdout, api.EntryList{Entries: created}, func(w io.Writer) {
		fmt.Fprintln(w, "ID\tSPIFFE ID\tPARENT\tSELECTORS\tSTATUS\tOWNER")
		for _, e := range created {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.SPIFFEID, parentText(e), list(e.Selectors), orDash(e.Status), orDash(e.Owner))
		}
	})
}

// batchIndex finds the index of an entry in a problem's field:
// entries[3].selectors.
var batchIndex = regexp.MustCompile(`^entries\[(\d+)\]`)

// runEntryExport is `kith entry export`.
func runEntryExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("entry export", "[-o yaml|json] [filters] [flags]",
		"Print the entries (all, or those the filters select) as a file that\n"+
			"kith entry create -f reads back: the same fields, without those the server\n"+
			"assigns (ID, revision, times).", stderr)
	var f adminclient.EntryFilter
	fs.StringVar(&f.SPIFFEID, "spiffe-id", "", "only entries with this SPIFFE ID")
	fs.StringVar(&f.ParentID, "parent", "", "only entries with this parent ID")
	fs.BoolVar(&f.AnyAgent, "any-agent", false, "only entries every agent may serve")
	fs.StringVar(&f.Status, "status", "", "only entries with this status")
	cf := addConnFlags(fs)
	format := "yaml"
	fs.StringVar(&format, "o", "yaml", "file format: yaml or json")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if format != "yaml" && format != "json" {
		return usagef(fs, "-o must be yaml or json, not %q", format)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	entries, err := c.ListAllEntries(ctx, f)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return errors.New("entry export: no entries to export")
	}
	return entryfile.Write(stdout, entries, format)
}
