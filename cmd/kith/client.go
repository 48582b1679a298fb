package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
)

// runClient is `kith client`: manage OAuth clients.
func runClient(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "client", []subcommand{
		{"create", "create an OAuth client for a workload entry", runClientCreate},
		{"list", "list OAuth clients", runClientList},
		{"show", "show an OAuth client", runClientShow},
		{"delete", "delete an OAuth client and revoke its tokens", runClientDelete},
		{"rotate-secret", "give a client a new secret", runClientRotateSecret},
		{"add-key", "register a public key (JWK) for private_key_jwt", runClientAddKey},
		{"remove-key", "remove a client's public key", runClientRemoveKey},
		{"revoke-tokens", "revoke every token issued to a client so far", runClientRevokeTokens},
	}, args, stdout, stderr)
}

// runClientCreate is `kith client create`.
func runClientCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("client create", "--entry ID|SPIFFE-ID --audience URI... [flags]",
		"Create an OAuth client that acts for a workload entry. A secret-based client's\n"+
			"secret is printed once; store it then.", stderr)
	var in api.ClientCreate
	scopes := stringList{split: true}
	var audiences, jwks stringList
	fs.StringVar(&in.EntryID, "entry", "", "the entry the client acts for, by ID or SPIFFE ID (required)")
	fs.Var(&scopes, "scopes", "scopes the client may be granted, comma-separated, within the entry's max scopes")
	fs.StringVar(&in.AuthMethod, "auth-method", "client_secret_basic",
		"client_secret_basic, client_secret_post, private_key_jwt, jwt_svid or tls_client_auth")
	fs.Var(&audiences, "audience", "a resource the client may obtain tokens for, an absolute URI such as a SPIFFE ID (repeatable; at least one)")
	fs.Var(&jwks, "jwk", "file holding a public JWK, for private_key_jwt (repeatable)")
	fs.StringVar(&in.Description, "description", "", "free text")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	switch {
	case in.EntryID == "":
		return usagef(fs, "--entry is required")
	case len(audiences.vs) == 0:
		return usagef(fs, "at least one --audience is required")
	}
	in.Scopes, in.Audiences = scopes.vs, audiences.vs
	for _, path := range jwks.vs {
		jwk, err := readJWK(path)
		if err != nil {
			return err
		}
		in.Keys = append(in.Keys, jwk)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	if in.EntryID, err = resolveEntry(ctx, c, in.EntryID); err != nil {
		return err
	}
	out, err := c.CreateClient(ctx, in)
	if err != nil {
		return err
	}
	return writeClientSecret(cf, stdout, stderr, out)
}

// writeClientSecret prints a client with the secret the server showed
// once.
func writeClientSecret(cf *clientFlags, stdout, stderr io.Writer, out *api.ClientSecret) error {
	err := cf.write(stdout, out, func(w io.Writer) {
		writeClient(w, &out.Client)
		if out.Secret != "" {
			fmt.Fprintf(w, "Secret:\t%s\n", out.Secret)
		}
	})
	if err == nil && out.Secret != "" {
		fmt.Fprintln(stderr, "The secret is shown this once; Kith keeps only its hash.")
	}
	return err
}

// readJWK reads a JWK file and checks that it is one JSON object.
func readJWK(path string) (json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read JWK: %w", err)
	}
	var probe map[string]any
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%s is not a JWK: %w", path, err)
	}
	if _, private := probe["d"]; private {
		return nil, fmt.Errorf("%s holds a private key; register the public key only", path)
	}
	return json.RawMessage(b), nil
}

// runClientList is `kith client list`.
func runClientList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f adminclient.ClientFilter
	return runList(ctx, listSpec[api.Client]{
		name: "client list", plural: "clients", summary: "List OAuth clients, all of them unless --limit is given.",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&f.EntryID, "entry", "", "only the clients of this entry, by ID or SPIFFE ID")
		},
		limit: &f.Limit, after: &f.After,
		page: func(ctx context.Context, c *adminclient.Client) ([]api.Client, string, error) {
			var err error
			if f.EntryID, err = resolveEntry(ctx, c, f.EntryID); err != nil {
				return nil, "", err
			}
			p, err := c.ListClients(ctx, f)
			if err != nil {
				return nil, "", err
			}
			return p.Clients, p.Next, nil
		},
		all: func(ctx context.Context, c *adminclient.Client) ([]api.Client, error) {
			var err error
			if f.EntryID, err = resolveEntry(ctx, c, f.EntryID); err != nil {
				return nil, err
			}
			return c.ListAllClients(ctx, f)
		},
		wrap: func(items []api.Client, next string) any { return api.ClientList{Clients: items, Next: next} },
		table: func(w io.Writer, items []api.Client) {
			fmt.Fprintln(w, "ID\tENTRY\tAUTH METHOD\tSCOPES\tAUDIENCES")
			for _, cl := range items {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", cl.ID, cl.EntryID, cl.AuthMethod, list(cl.Scopes), list(cl.Audiences))
			}
		},
	}, args, stdout, stderr)
}

// clientCommand parses the flags of a command on one client: its own
// (registered by extra), the admin client flags, and n positional
// arguments, the client ID first. It returns the admin client too.
func clientCommand(args []string, stderr io.Writer, name, synopsis, summary string, n int,
	extra func(fs *flag.FlagSet)) (*clientFlags, []string, *adminclient.Client, error) {
	fs := newFlagSet("client "+name, synopsis, summary, stderr)
	if extra != nil {
		extra(fs)
	}
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, n)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := cf.client()
	return cf, pos, c, err
}

// runClientShow is `kith client show`.
func runClientShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOnID(ctx, "client show", "[flags] ID", "Show an OAuth client.", args, stdout, stderr,
		(*adminclient.Client).GetClient, writeClient)
}

// runClientDelete is `kith client delete`.
func runClientDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cf, pos, c, err := clientCommand(args, stderr, "delete", "[flags] ID",
		"Delete an OAuth client. Every token issued to it is revoked.", 1, nil)
	if err != nil {
		return err
	}
	if err := c.DeleteClient(ctx, pos[0]); err != nil {
		return err
	}
	if !cf.json() {
		fmt.Fprintf(stdout, "Deleted client %s and revoked its tokens.\n", pos[0])
	}
	return nil
}

// runClientRotateSecret is `kith client rotate-secret`.
func runClientRotateSecret(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var overlap time.Duration
	cf, pos, c, err := clientCommand(args, stderr, "rotate-secret", "[--overlap 1h] [flags] ID",
		"Give a client a new secret, printed once. Its current secrets keep working for\n"+
			"the overlap, so that its replicas can move to the new one.", 1,
		func(fs *flag.FlagSet) {
			durationVar(fs, &overlap, "overlap", time.Hour, "how long the current secrets keep working, a `duration` such as 1h or 7d (0: stop at once)")
		})
	if err != nil {
		return err
	}
	out, err := c.RotateClientSecret(ctx, pos[0], &overlap)
	if err != nil {
		return err
	}
	return writeClientSecret(cf, stdout, stderr, out)
}

// runClientAddKey is `kith client add-key`.
func runClientAddKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var path string
	cf, pos, c, err := clientCommand(args, stderr, "add-key", "--jwk FILE [flags] ID",
		"Register a public key (a JWK with a kid) that signs the client's private_key_jwt\nassertions.", 1,
		func(fs *flag.FlagSet) { fs.StringVar(&path, "jwk", "", "file holding the public JWK (required)") })
	if err != nil {
		return err
	}
	if path == "" {
		return usageError{fmt.Errorf("client add-key: --jwk is required (see 'kith client add-key -h')")}
	}
	jwk, err := readJWK(path)
	if err != nil {
		return err
	}
	cl, err := c.AddClientKey(ctx, pos[0], jwk)
	if err != nil {
		return err
	}
	return cf.write(stdout, cl, func(w io.Writer) { writeClient(w, cl) })
}

// runClientRemoveKey is `kith client remove-key`.
func runClientRemoveKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cf, pos, c, err := clientCommand(args, stderr, "remove-key", "[flags] ID KID",
		"Remove a client's public key; assertions it signs are refused from then on.", 2, nil)
	if err != nil {
		return err
	}
	cl, err := c.RemoveClientKey(ctx, pos[0], pos[1])
	if err != nil {
		return err
	}
	return cf.write(stdout, cl, func(w io.Writer) { writeClient(w, cl) })
}

// runClientRevokeTokens is `kith client revoke-tokens`.
func runClientRevokeTokens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var reason string
	cf, pos, c, err := clientCommand(args, stderr, "revoke-tokens", "[--reason TEXT] [flags] ID",
		"Revoke every token issued to a client so far; tokens it obtains afterwards are\nvalid.", 1,
		func(fs *flag.FlagSet) { fs.StringVar(&reason, "reason", "", "why, for the audit ledger") })
	if err != nil {
		return err
	}
	if err := c.RevokeClientTokens(ctx, pos[0], reason); err != nil {
		return err
	}
	if !cf.json() {
		fmt.Fprintf(stdout, "Revoked the tokens of client %s.\n", pos[0])
	}
	return nil
}

// writeClient prints a client as a two-column table.
func writeClient(w io.Writer, c *api.Client) {
	var secrets, keys []string
	for _, s := range c.Secrets {
		text := s.ID + " (current)"
		if !s.ExpiresAt.IsZero() {
			text = s.ID + " (until " + s.ExpiresAt.Format(time.RFC3339) + ")"
		}
		secrets = append(secrets, text)
	}
	for _, k := range c.Keys {
		keys = append(keys, k.KeyID)
	}
	rows := [][2]string{
		{"ID", c.ID},
		{"Entry", c.EntryID},
		{"Auth method", c.AuthMethod},
		{"Scopes", list(c.Scopes)},
		{"Audiences", list(c.Audiences)},
		{"Description", orDash(c.Description)},
		{"Secrets", orDash(strings.Join(secrets, ", "))},
		{"Keys", list(keys)},
		{"Created", timeText(c.CreatedAt)},
		{"Updated", timeText(c.UpdatedAt)},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s:\t%s\n", r[0], strings.ReplaceAll(r[1], "\n", " "))
	}
}
