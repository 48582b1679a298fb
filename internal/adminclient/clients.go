package adminclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kith-dev/kith/api"
)

// ClientFilter narrows [Client.ListClients]. Empty fields match
// everything.
type ClientFilter struct {
	EntryID string
	// After is the cursor of the page to read: the Next of the previous
	// page; empty for the first page.
	After string
	// Limit caps the page size; zero means the server default.
	Limit int
}

func (f ClientFilter) query() url.Values {
	q := url.Values{}
	setIf(q, "entry_id", f.EntryID)
	setIf(q, "after", f.After)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// clientPath returns the path of the OAuth client id, plus suffix.
func clientPath(id, suffix string) string { return "/v1/clients/" + url.PathEscape(id) + suffix }

// errNoClientID is returned when a call needs a client ID and got none.
var errNoClientID = errors.New("client ID is empty")

// CreateClient creates an OAuth client and returns it with its first
// secret (for a secret-based client), which the server shows only this
// once. It returns the server's *api.Problem on refusal.
func (c *Client) CreateClient(ctx context.Context, in api.ClientCreate) (*api.ClientSecret, error) {
	var out api.ClientSecret
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/clients", in: in, out: &out}); err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return &out, nil
}

// GetClient returns the OAuth client id. It returns the server's
// *api.Problem (404 if there is no such client).
func (c *Client) GetClient(ctx context.Context, id string) (*api.Client, error) {
	if id == "" {
		return nil, fmt.Errorf("get client: %w", errNoClientID)
	}
	var out api.Client
	if err := c.do(ctx, call{method: http.MethodGet, path: clientPath(id, ""), out: &out}); err != nil {
		return nil, fmt.Errorf("get client %s: %w", id, err)
	}
	return &out, nil
}

// ListClients returns one page of the OAuth clients matching f; the
// page's Next, if not empty, is the After of the following page.
func (c *Client) ListClients(ctx context.Context, f ClientFilter) (*api.ClientList, error) {
	var out api.ClientList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/clients", query: f.query(), out: &out}); err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return &out, nil
}

// ListAllClients returns every OAuth client matching f, page after page.
// It returns an error if a page fails or the server repeats a cursor.
func (c *Client) ListAllClients(ctx context.Context, f ClientFilter) ([]api.Client, error) {
	return listAll(ctx, "clients", f.After, func(ctx context.Context, after string) ([]api.Client, string, error) {
		f.After = after
		page, err := c.ListClients(ctx, f)
		if err != nil {
			return nil, "", err
		}
		return page.Clients, page.Next, nil
	})
}

// DeleteClient deletes the OAuth client id and revokes its tokens. It
// returns the server's *api.Problem (404 if there is no such client).
func (c *Client) DeleteClient(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("delete client: %w", errNoClientID)
	}
	if err := c.do(ctx, call{method: http.MethodDelete, path: clientPath(id, "")}); err != nil {
		return fmt.Errorf("delete client %s: %w", id, err)
	}
	return nil
}

// RotateClientSecret gives the client a new secret, returned once; its
// current secrets keep working for overlap (nil: the server's default of
// one hour). It returns the server's *api.Problem on refusal.
func (c *Client) RotateClientSecret(ctx context.Context, id string, overlap *time.Duration) (*api.ClientSecret, error) {
	if id == "" {
		return nil, fmt.Errorf("rotate client secret: %w", errNoClientID)
	}
	var in api.SecretRotate
	if overlap != nil {
		d := api.Duration(*overlap)
		in.Overlap = &d
	}
	var out api.ClientSecret
	if err := c.do(ctx, call{method: http.MethodPost, path: clientPath(id, "/secret"), in: in, out: &out}); err != nil {
		return nil, fmt.Errorf("rotate secret of client %s: %w", id, err)
	}
	return &out, nil
}

// AddClientKey registers a public JWK with a private_key_jwt client and
// returns the client. It returns the server's *api.Problem on refusal.
func (c *Client) AddClientKey(ctx context.Context, id string, jwk json.RawMessage) (*api.Client, error) {
	if id == "" {
		return nil, fmt.Errorf("add client key: %w", errNoClientID)
	}
	var out api.Client
	if err := c.do(ctx, call{method: http.MethodPost, path: clientPath(id, "/keys"), in: jwk, out: &out}); err != nil {
		return nil, fmt.Errorf("add key to client %s: %w", id, err)
	}
	return &out, nil
}

// RemoveClientKey removes the key kid from a client and returns the
// client. It returns the server's *api.Problem (404 if there is no such
// client or key).
func (c *Client) RemoveClientKey(ctx context.Context, id, kid string) (*api.Client, error) {
	if id == "" {
		return nil, fmt.Errorf("remove client key: %w", errNoClientID)
	}
	var out api.Client
	if err := c.do(ctx, call{method: http.MethodDelete, path: clientPath(id, "/keys/"+url.PathEscape(kid)), out: &out}); err != nil {
		return nil, fmt.Errorf("remove key %s from client %s: %w", kid, id, err)
	}
	return &out, nil
}

// RevokeClientTokens revokes every token issued to the client so far. It
// returns the server's *api.Problem (404 if there is no such client).
func (c *Client) RevokeClientTokens(ctx context.Context, id, reason string) error {
	if id == "" {
		return fmt.Errorf("revoke client tokens: %w", errNoClientID)
	}
	in := api.ClientTokensRevoke{Reason: reason}
	if err := c.do(ctx, call{method: http.MethodPost, path: clientPath(id, "/revoke-tokens"), in: in}); err != nil {
		return fmt.Errorf("revoke tokens of client %s: %w", id, err)
	}
	return nil
}

// CheckSecret asks which client holds the Kith client secret in.Secret
// (found outside Kith, by kith scan), whether it is live, and, with
// in.Revoke, to revoke it; the server records the leak. A secret no
// client holds is answered with Known false. It returns the server's
// *api.Problem on refusal (400 for a string that is not a Kith secret,
// 429 when checks come too fast).
func (c *Client) CheckSecret(ctx context.Context, in api.SecretCheck) (*api.SecretCheckResult, error) {
	var out api.SecretCheckResult
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/clients/secret-check", in: in, out: &out}); err != nil {
		return nil, fmt.Errorf("check secret: %w", err)
	}
	return &out, nil
}
