package adminclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kith-dev/kith/api"
)

// EventFilter narrows [Client.ListEvents]. Empty fields match everything.
type EventFilter struct {
	Type    string
	Actor   string
	Target  string
	Outcome string
	// After asks for the events whose index is greater than After, given
	// in decimal (the Index of the last event seen); empty for the first
	// event on.
	After string
	// Limit caps the page size; zero means the server default.
	Limit int
}

// query encodes f as query parameters.
func (f EventFilter) query() url.Values {
	q := url.Values{}
	setIf(q, "type", f.Type)
	setIf(q, "actor", f.Actor)
	setIf(q, "target", f.Target)
	setIf(q, "outcome", f.Outcome)
	setIf(q, "after", f.After)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// ListEvents returns one page of the audit events matching f, oldest first.
func (c *Client) ListEvents(ctx context.Context, f EventFilter) (*api.EventList, error) {
	var out api.EventList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/events", query: f.query(), out: &out}); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return &out, nil
}
