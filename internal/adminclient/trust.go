package adminclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kith-dev/kith/api"
)

// trustPath returns the path of a caller's trust, its identity escaped
// as one segment (a SPIFFE ID holds slashes).
func trustPath(identity string) string { return "/v1/trust/" + url.PathEscape(identity) }

// ResolveCaller returns the identity the trust engine keys a caller by,
// from a reference a person types: a SPIFFE ID as it is; otherwise the
// SPIFFE ID of the entry with that ID, if there is one; otherwise the
// reference itself, as an OAuth client ID.
func (c *Client) ResolveCaller(ctx context.Context, ref string) (string, error) {
	if ref == "" {
		return "", errNoID
	}
	if IsSPIFFEID(ref) {
		return ref, nil
	}
	e, err := c.GetEntry(ctx, ref)
	var p *api.Problem
	switch {
	case err == nil:
		return e.SPIFFEID, nil
	case errors.As(err, &p) && p.Status == http.StatusNotFound:
		return ref, nil
	}
	return "", err
}

// TrustFilter narrows [Client.ListTrust].
type TrustFilter struct {
	// Level is high, medium, low or untrusted; empty for all.
	Level string
	// Identity keeps the callers whose identity contains it.
	Identity string
}

// ListTrust returns the callers the trust engine tracks, lowest score
// first. It returns the server's *api.Problem (503 when the engine is
// disabled).
func (c *Client) ListTrust(ctx context.Context, f TrustFilter) (*api.TrustList, error) {
	q := url.Values{}
	setIf(q, "level", f.Level)
	setIf(q, "identity", f.Identity)
	var out api.TrustList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/trust", query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("list trust: %w", err)
	}
	return &out, nil
}

// GetTrust returns a caller's trust state with its reasons, context
// inputs and recent signals.
func (c *Client) GetTrust(ctx context.Context, identity string) (*api.TrustState, error) {
	if identity == "" {
		return nil, fmt.Errorf("get trust: %w", errNoID)
	}
	var out api.TrustState
	if err := c.do(ctx, call{method: http.MethodGet, path: trustPath(identity), out: &out}); err != nil {
		return nil, fmt.Errorf("get trust of %s: %w", identity, err)
	}
	return &out, nil
}

// TrustHistory returns a caller's trust.* ledger events, oldest first,
// after the index after (-1 for the first) and at most limit (zero: the
// server's default).
func (c *Client) TrustHistory(ctx context.Context, identity string, after int64, limit int) (*api.TrustHistory, error) {
	if identity == "" {
		return nil, fmt.Errorf("trust history: %w", errNoID)
	}
	q := url.Values{}
	if after >= 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out api.TrustHistory
	if err := c.do(ctx, call{method: http.MethodGet, path: trustPath(identity) + "/history", query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("trust history of %s: %w", identity, err)
	}
	return &out, nil
}

// ClearTrust restores a caller's trust at once, for the reason given
// (recorded in the ledger with the admin's name), and returns the new
// state. It returns the server's *api.Problem (404 for a caller the
// engine does not know).
func (c *Client) ClearTrust(ctx context.Context, identity, reason string) (*api.TrustState, error) {
	if identity == "" {
		return nil, fmt.Errorf("clear trust: %w", errNoID)
	}
	var out api.TrustState
	if err := c.do(ctx, call{method: http.MethodPost, path: trustPath(identity) + "/clear", in: api.TrustClear{Reason: reason}, out: &out}); err != nil {
		return nil, fmt.Errorf("clear trust of %s: %w", identity, err)
	}
	return &out, nil
}

// AddTrustContext adds (or replaces, by ID) a context input about a
// caller and returns its new state.
func (c *Client) AddTrustContext(ctx context.Context, identity string, in api.TrustContext) (*api.TrustState, error) {
	if identity == "" {
		return nil, fmt.Errorf("add trust context: %w", errNoID)
	}
	var out api.TrustState
	if err := c.do(ctx, call{method: http.MethodPost, path: trustPath(identity) + "/context", in: in, out: &out}); err != nil {
		return nil, fmt.Errorf("add trust context to %s: %w", identity, err)
	}
	return &out, nil
}

// RemoveTrustContext removes a caller's context input id and returns its
// new state.
func (c *Client) RemoveTrustContext(ctx context.Context, identity, id string) (*api.TrustState, error) {
	if identity == "" {
		return nil, fmt.Errorf("remove trust context: %w", errNoID)
	}
	var out api.TrustState
	if err := c.do(ctx, call{method: http.MethodDelete, path: trustPath(identity) + "/context", in: api.TrustContextRemove{ID: id}, out: &out}); err != nil {
		return nil, fmt.Errorf("remove trust context of %s: %w", identity, err)
	}
	return &out, nil
}

// SignalFilter narrows [Client.ListSignals].
type SignalFilter struct {
	// Identity keeps one caller's signals; Kind one kind's.
	Identity, Kind string
	// Since keeps the signals at or after it.
	Since time.Time
	// After keeps the signals whose ledger index is greater; -1 for all.
	After int64
	// Limit caps the page; zero means the server's default.
	Limit int
}

// ListSignals returns the trust signals matching f, oldest first.
func (c *Client) ListSignals(ctx context.Context, f SignalFilter) (*api.SignalList, error) {
	q := url.Values{}
	setIf(q, "identity", f.Identity)
	setIf(q, "kind", f.Kind)
	setIf(q, "since", rfc3339(f.Since))
	if f.After >= 0 {
		q.Set("after", strconv.FormatInt(f.After, 10))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out api.SignalList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/signals", query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("list signals: %w", err)
	}
	return &out, nil
}
