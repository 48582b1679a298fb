package adminclient

import (
	"context"
	"fmt"

	"github.com/kith-dev/kith/internal/ledger"
)

// LogSource returns the server's ledger as a [ledger.LogSource], for
// [ledger.VerifyLog] to walk over the admin API. Entries splits a range
// into calls of at most [MaxLedgerEntries] leaves.
func (c *Client) LogSource() ledger.LogSource { return logSource{c} }

// logSource adapts the ledger routes to ledger.LogSource.
type logSource struct{ c *Client }

// Checkpoint returns the latest signed checkpoint note.
func (s logSource) Checkpoint(ctx context.Context) ([]byte, error) {
	return s.c.Checkpoint(ctx)
}

// Checkpoints returns the checkpoint notes of size greater than afterSize.
func (s logSource) Checkpoints(ctx context.Context, afterSize uint64, limit int) ([][]byte, error) {
	cps, err := s.c.Checkpoints(ctx, afterSize, limit)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(cps.Checkpoints))
	for i, cp := range cps.Checkpoints {
		out[i] = []byte(cp)
	}
	return out, nil
}

// Entries returns the leaves in [start, end), reading them in chunks. It
// returns an error if the server skips, repeats or withholds a leaf.
func (s logSource) Entries(ctx context.Context, start, end uint64) ([]ledger.Entry, error) {
	if end < start {
		return nil, fmt.Errorf("get ledger entries: end %d is before start %d", end, start)
	}
	out := make([]ledger.Entry, 0, min(end-start, MaxLedgerEntries))
	for next := start; next < end; {
		page, err := s.c.LedgerEntries(ctx, next, min(end, next+MaxLedgerEntries))
		if err != nil {
			return nil, err
		}
		if len(page.Entries) == 0 {
			return nil, fmt.Errorf("get ledger entries [%d, %d): the server returned none", next, end)
		}
		for _, e := range page.Entries {
			if next >= end {
				return nil, fmt.Errorf("get ledger entries [%d, %d): the server returned more than asked", start, end)
			}
			if e.Index != next {
				return nil, fmt.Errorf("get ledger entries: the server returned entry %d where %d was expected", e.Index, next)
			}
			out = append(out, ledger.Entry{Index: e.Index, Data: e.Data, LeafHash: e.LeafHash})
			next++
		}
	}
	return out, nil
}
