package adminclient

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/ledger"
)

// WaitCheckpoint waits until the ledger has a signed checkpoint covering
// every event recorded when it was called, polling every poll, and returns
// that checkpoint's note. It checks the note against the key the server
// serves, which only guards against reading garbage: verify the result
// with a key obtained out of band. It returns ctx's error, wrapped, if ctx
// ends first.
func (c *Client) WaitCheckpoint(ctx context.Context, poll time.Duration) ([]byte, error) {
	key, err := c.LedgerKey(ctx)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(key.VerifierKey)
	if err != nil {
		return nil, fmt.Errorf("ledger key from the server: %w", err)
	}
	latest := func() ([]byte, uint64, error) {
		b, err := c.Checkpoint(ctx)
		if errors.Is(err, ledger.ErrNoCheckpoint) {
			return nil, 0, nil
		}
		if err != nil {
			return nil, 0, err
		}
		cp, err := ledger.ParseCheckpoint(b, v)
		if err != nil {
			return nil, 0, fmt.Errorf("checkpoint from the server: %w", err)
		}
		return b, cp.Size, nil
	}
	cp, have, err := latest()
	if err != nil {
		return nil, err
	}
	want, err := c.ledgerSize(ctx, have)
	if err != nil {
		return nil, err
	}
	timedOut := func() error {
		return fmt.Errorf("wait for a checkpoint of size %d (latest is %d): %w", want, have, context.Cause(ctx))
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for cp == nil || have < want {
		select {
		case <-ctx.Done():
			return nil, timedOut()
		case <-t.C:
		}
		next, size, err := latest()
		if ctx.Err() != nil {
			return nil, timedOut()
		}
		if err != nil {
			return nil, err
		}
		cp, have = next, size
	}
	return cp, nil
}

// ledgerSize returns the number of events in the ledger, that is the index
// of the last one plus one, given that there are at least from. It reads
// the events from index from on.
func (c *Client) ledgerSize(ctx context.Context, from uint64) (uint64, error) {
	f := EventFilter{Limit: MaxLedgerEntries}
	if from > 0 {
		f.After = strconv.FormatUint(from-1, 10)
	}
	size := from
	for {
		page, err := c.ListEvents(ctx, f)
		if err != nil {
			return 0, fmt.Errorf("ledger size: %w", err)
		}
		if len(page.Events) == 0 {
			return size, nil
		}
		last := page.Events[len(page.Events)-1].Index
		if last < 0 || uint64(last) < size {
			return 0, fmt.Errorf("ledger size: the server went back to index %d after %d", last, size)
		}
		size = uint64(last) + 1
		f.After = strconv.FormatInt(last, 10)
	}
}
