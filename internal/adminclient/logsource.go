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
// passes on what the server sends, gaps and all, so that the verifier,
// which checks every leaf's index and content, names the first bad one; it
// stops early when the server has nothing more.
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
			break
		}
		advanced := next
		for _, e := range page.Entries {
			out = append(out, ledger.Entry{Index: e.Index, Data: e.Data, LeafHash: e.LeafHash})
			advanced = max(advanced, e.Index+1)
		}
		if advanced == next { // the server went backwards: don't loop
			break
		}
		next = advanced
	}
	return out, nil
}
