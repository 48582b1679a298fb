package adminclient

import (
	"context"
	"fmt"
)

// listAll reads page after page with fetch, starting after the cursor
// after, until a page has no next cursor, and returns every item. what
// names the listing in errors. It returns fetch's error, or an error if
// the server repeats a cursor (which would loop forever).
func listAll[T any](ctx context.Context, what, after string,
	fetch func(ctx context.Context, after string) (items []T, next string, err error)) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	for {
		items, next, err := fetch(ctx, after)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("list %s: server repeated cursor %q", what, next)
		}
		seen[next] = true
		after = next
	}
}
