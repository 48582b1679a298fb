package adminclient

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/kith-dev/kith/api"
)

// tailPageSize is the page size TailEvents and FollowEvents read with
// (the server's cap).
const tailPageSize = 1000

// TailEvents returns the last n events matching f for which keep (nil:
// every event) is true, oldest first, with the index of the last event
// read whether kept or not (-1 when there is none), from which
// [Client.FollowEvents] can go on. f.After and f.Limit are ignored. It
// reads the log page by page to its end, and returns the error of a page
// or an error if the server goes back.
func (c *Client) TailEvents(ctx context.Context, f EventFilter, n int, keep func(api.Event) bool) ([]api.Event, int64, error) {
	var tail []api.Event
	last, err := c.readEvents(ctx, f, -1, keep, func(page []api.Event) error {
		tail = append(tail, page...)
		tail = tail[max(0, len(tail)-n):]
		return nil
	})
	return append([]api.Event{}, tail...), last, err
}

// FollowEvents calls fn with the events matching f and keep recorded
// after index after, as they come: it reads to the end of the log, then
// again every interval, until ctx is done (it returns nil then), a page
// fails or fn returns an error. fn is not called with no events.
func (c *Client) FollowEvents(ctx context.Context, f EventFilter, after int64, interval time.Duration, keep func(api.Event) bool, fn func([]api.Event) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		last, err := c.readEvents(ctx, f, after, keep, fn)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		after = last
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// readEvents reads the events matching f after index after to the end of
// the log and calls fn with the kept ones of each page that has any. It
// returns the index of the last event read, after if none.
func (c *Client) readEvents(ctx context.Context, f EventFilter, after int64, keep func(api.Event) bool, fn func([]api.Event) error) (int64, error) {
	f.Limit = tailPageSize
	for {
		f.After = ""
		if after >= 0 {
			f.After = strconv.FormatInt(after, 10)
		}
		page, err := c.ListEvents(ctx, f)
		if err != nil {
			return after, err
		}
		if len(page.Events) == 0 {
			return after, nil
		}
		last := page.Events[len(page.Events)-1].Index
		if last <= after {
			return after, fmt.Errorf("list events: the server went back to index %d after %d", last, after)
		}
		kept := page.Events
		if keep != nil {
			kept = nil
			for _, e := range page.Events {
				if keep(e) {
					kept = append(kept, e)
				}
			}
		}
		if len(kept) > 0 {
			if err := fn(kept); err != nil {
				return after, err
			}
		}
		after = last
	}
}
