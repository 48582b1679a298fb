package adminclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kith-dev/kith/api"
)

// EventFilter narrows [Client.ListEvents] and [Client.ExportEvents]. Empty fields match everything.
type EventFilter struct {
	Type    string
	Actor   string
	Target  string
	Outcome string
	// Since and Until, when not zero, bound the event time to the
	// half-open range [Since, Until).
	Since, Until time.Time
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
	setIf(q, "since", rfc3339(f.Since))
	setIf(q, "until", rfc3339(f.Until))
	setIf(q, "after", f.After)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// rfc3339 formats t in RFC 3339, or returns "" if t is zero.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// ListEvents returns one page of the audit events matching f, oldest first.
func (c *Client) ListEvents(ctx context.Context, f EventFilter) (*api.EventList, error) {
	var out api.EventList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/events", query: f.query(), out: &out}); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return &out, nil
}
