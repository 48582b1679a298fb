package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/kith-dev/kith/internal/store"
)

// Source returns the ledger's own log as a [LogSource], serving what the
// store holds without checking it (unlike [Ledger.Checkpoint] and
// [Ledger.Checkpoints]), so that verifiers, not the server, judge it. Its
// Checkpoint method returns [ErrNoCheckpoint] before the first checkpoint.
func (l *Ledger) Source() LogSource { return source{l} }

// source is the LogSource of a Ledger's store.
type source struct{ l *Ledger }

func (s source) Checkpoint(ctx context.Context) ([]byte, error) {
	row, err := s.l.store.LatestCheckpoint(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoCheckpoint
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return row.Note, nil
}

func (s source) Checkpoints(ctx context.Context, afterSize uint64, limit int) ([][]byte, error) {
	rows, err := s.l.store.ListCheckpoints(ctx, int64(min(afterSize, 1<<63-1)), limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	notes := make([][]byte, len(rows))
	for i, r := range rows {
		notes[i] = r.Note
	}
	return notes, nil
}

func (s source) Entries(ctx context.Context, start, end uint64) ([]Entry, error) {
	return s.l.Entries(ctx, start, end)
}
