package adminclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kith-dev/kith/api"
)

// EntryFilter narrows [Client.ListEntries]. Empty fields match everything.
type EntryFilter struct {
	SPIFFEID string
	ParentID string
	Status   string
	// AnyAgent selects only the entries every agent may serve.
	AnyAgent bool
	// After is the cursor of the page to read: the Next of the previous
	// page; empty for the first page.
	After string
	// Limit caps the page size; zero means the server default.
	Limit int
}

// query encodes f as query parameters.
func (f EntryFilter) query() url.Values {
	q := url.Values{}
	setIf(q, "spiffe_id", f.SPIFFEID)
	setIf(q, "parent_id", f.ParentID)
	setIf(q, "status", f.Status)
	if f.AnyAgent {
		q.Set("any_agent", "true")
	}
	setIf(q, "after", f.After)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// setIf sets q[key] to v unless v is empty.
func setIf(q url.Values, key, v string) {
	if v != "" {
		q.Set(key, v)
	}
}

// entryPath returns the path of the entry id.
func entryPath(id string) string { return "/v1/entries/" + url.PathEscape(id) }

// errNoID is returned when a call needs an entry ID and got none.
var errNoID = errors.New("entry ID is empty")

// CreateEntry registers e (its ID is ignored) and returns the stored entry.
// It returns the server's *api.Problem on refusal.
func (c *Client) CreateEntry(ctx context.Context, e api.Entry) (*api.Entry, error) {
	var out api.Entry
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/entries", in: e, out: &out}); err != nil {
		return nil, fmt.Errorf("create entry: %w", err)
	}
	return &out, nil
}

// CreateEntries creates entries in one transaction, all or none, and
// returns them as created. It returns the server's *api.Problem, whose
// Field names the first bad entry by its index (entries[i].field).
func (c *Client) CreateEntries(ctx context.Context, entries []api.Entry) ([]api.Entry, error) {
	var out api.EntryList
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/entries/batch", in: api.EntryBatch{Entries: entries}, out: &out}); err != nil {
		return nil, fmt.Errorf("create entries: %w", err)
	}
	return out.Entries, nil
}

// GetEntry returns the entry id. It returns the server's *api.Problem (404
// if there is no such entry).
func (c *Client) GetEntry(ctx context.Context, id string) (*api.Entry, error) {
	if id == "" {
		return nil, fmt.Errorf("get entry: %w", errNoID)
	}
	var out api.Entry
	if err := c.do(ctx, call{method: http.MethodGet, path: entryPath(id), out: &out}); err != nil {
		return nil, fmt.Errorf("get entry %s: %w", id, err)
	}
	return &out, nil
}

// ListEntries returns one page of the entries matching f; the page's Next,
// if not empty, is the After of the following page.
func (c *Client) ListEntries(ctx context.Context, f EntryFilter) (*api.EntryList, error) {
	var out api.EntryList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/entries", query: f.query(), out: &out}); err != nil {
		return nil, fmt.Errorf("list entries: %w", err)
	}
	return &out, nil
}

// ListAllEntries returns every entry matching f, reading page after page
// from f.After on (f.Limit sets the page size). It returns an error if a
// page fails or the server repeats a cursor.
func (c *Client) ListAllEntries(ctx context.Context, f EntryFilter) ([]api.Entry, error) {
	return listAll(ctx, "entries", f.After, func(ctx context.Context, after string) ([]api.Entry, string, error) {
		f.After = after
		page, err := c.ListEntries(ctx, f)
		if err != nil {
			return nil, "", err
		}
		return page.Entries, page.Next, nil
	})
}

// UpdateEntry replaces the entry e.ID with e. e.Revision must be the
// revision read; if the entry changed since, the server answers with a 409
// *api.Problem.
func (c *Client) UpdateEntry(ctx context.Context, e api.Entry) (*api.Entry, error) {
	if e.ID == "" {
		return nil, fmt.Errorf("update entry: %w", errNoID)
	}
	var out api.Entry
	if err := c.do(ctx, call{method: http.MethodPut, path: entryPath(e.ID), in: e, out: &out}); err != nil {
		return nil, fmt.Errorf("update entry %s: %w", e.ID, err)
	}
	return &out, nil
}

// DeleteEntry deletes the entry id. It returns the server's *api.Problem
// (404 if there is no such entry, 409 if OAuth clients act for it: see
// [Client.DeleteEntryCascade]).
func (c *Client) DeleteEntry(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("delete entry: %w", errNoID)
	}
	if err := c.do(ctx, call{method: http.MethodDelete, path: entryPath(id)}); err != nil {
		return fmt.Errorf("delete entry %s: %w", id, err)
	}
	return nil
}

// DeleteEntryCascade deletes the entry id and, first, the OAuth clients
// that act for it; it returns which. It returns the server's *api.Problem
// (404 if there is no such entry).
func (c *Client) DeleteEntryCascade(ctx context.Context, id string) (*api.EntryDeletion, error) {
	if id == "" {
		return nil, fmt.Errorf("delete entry: %w", errNoID)
	}
	var out api.EntryDeletion
	if err := c.do(ctx, call{method: http.MethodDelete, path: entryPath(id), query: url.Values{"cascade": {"true"}}, out: &out}); err != nil {
		return nil, fmt.Errorf("delete entry %s: %w", id, err)
	}
	return &out, nil
}
