package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/store"
)

// Run publishes a checkpoint at once if the log has grown since the last
// one, then again every CheckpointInterval while it grows, until ctx is
// done; it then returns nil. Before each, it adopts events stored by
// [Ledger.RecordTx] that the tree does not cover yet. A checkpoint that cannot be published (store
// failure, witnesses short of quorum, or a refusal to sign an
// inconsistent tree) is logged and tried again at the next tick; Record
// keeps working meanwhile.
func (l *Ledger) Run(ctx context.Context) error {
	ticker := time.NewTicker(l.interval)
	defer ticker.Stop()
	for {
		if err := l.Adopt(ctx); err != nil && ctx.Err() == nil {
			l.logger.LogAttrs(ctx, slog.LevelWarn, "ledger: events recorded in transactions not adopted yet", slog.Any("error", err))
		}
		cp, err := l.publish(ctx)
		l.stats.notePublished(cp)
		if err != nil && ctx.Err() == nil {
			l.stats.publishFailures.Add(1)
			level := slog.LevelWarn
			if errors.Is(err, errRefused) {
				level = slog.LevelError
			}
			l.logger.LogAttrs(ctx, level, "ledger: checkpoint not published", slog.Any("error", err))
		}
		l.noteChanged()
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Changed returns a channel closed at the Ledger's next change: when it
// learns that the tree grew (at its own commits, mostly), and after each
// publishing round of [Ledger.Run], whether or not the round published a
// checkpoint. [Ledger.Query], [Ledger.Stats] and [Ledger.Checkpoint] then
// show the change. A caller waiting for a condition on the ledger takes
// the channel, checks the condition, and waits on the channel only if it
// does not hold yet.
func (l *Ledger) Changed() <-chan struct{} {
	l.changedMu.Lock()
	defer l.changedMu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// noteChanged wakes the callers of Changed.
func (l *Ledger) noteChanged() {
	l.changedMu.Lock()
	defer l.changedMu.Unlock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// errRefused is wrapped by publish when it refuses to sign because the
// persisted tree does not extend the last published checkpoint.
var errRefused = errors.New("refusing to sign")

// errQuorum is wrapped by publish when too few witnesses cosigned.
var errQuorum = errors.New("witness quorum not reached")

// publish signs, has cosigned and stores a checkpoint of the persisted
// tree if it has grown since the latest published checkpoint, and returns
// the latest published checkpoint (nil while the log is empty).
//
// It never signs two inconsistent checkpoints: it signs only a tree read
// back from the store whose size is at least the latest published one
// and which is proven consistent with it from the stored hashes; it
// returns an error wrapping errRefused otherwise.
func (l *Ledger) publish(ctx context.Context) (*Checkpoint, error) {
	l.pubMu.Lock()
	defer l.pubMu.Unlock()
	// The checkpoint first: the persisted tree only grows, so the state
	// read after it is at least as large even if another replica
	// publishes in between.
	latest, err := l.Checkpoint(ctx)
	switch {
	case errors.Is(err, ErrNoCheckpoint):
		latest = nil
	case err != nil:
		return nil, fmt.Errorf("ledger: publish: %w: %w", errRefused, err)
	}
	st, err := l.store.LedgerState(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: publish: %w", err)
	}
	t, err := decodeTree(l.rf, st)
	if err != nil {
		return nil, fmt.Errorf("ledger: publish: %w: %w", errRefused, err)
	}
	l.noteSize(t.size)
	if t.size == 0 {
		return nil, nil
	}
	if latest != nil {
		if err := l.checkExtends(ctx, latest, t); err != nil {
			return nil, fmt.Errorf("ledger: publish size %d: %w: %w", t.size, errRefused, err)
		}
		if latest.Size == t.size {
			return latest, nil
		}
	}
	signed, err := note.Sign(&note.Note{Text: string(checkpointBody(l.origin, t.size, t.root))}, l.signer)
	if err != nil {
		return nil, fmt.Errorf("ledger: publish: sign: %w", err)
	}
	cosigs, count := l.cosign(ctx, t.size, signed)
	if count < l.quorum {
		return nil, fmt.Errorf("ledger: publish size %d: %w: %d of %d cosignatures", t.size, errQuorum, count, l.quorum)
	}
	msg := append(signed, cosigs...)
	now := l.clock().UTC().Truncate(time.Microsecond)
	err = l.store.AddCheckpoint(ctx, store.Checkpoint{Size: int64(t.size), Note: msg, Time: now})
	if errors.Is(err, store.ErrConflict) {
		// Another replica published this size or a larger one first; its
		// checkpoint stands (it is of the same, persisted tree).
		return l.Checkpoint(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: publish: %w", err)
	}
	l.logger.LogAttrs(ctx, slog.LevelDebug, "ledger: checkpoint published",
		slog.Uint64("size", t.size), slog.Int("cosignatures", count))
	return &Checkpoint{Origin: l.origin, Size: t.size, Root: t.root, Note: msg, Time: now}, nil
}

// checkExtends returns an error unless t extends the published
// checkpoint latest: as large, and consistent with it by a proof built
// from the stored hashes.
func (l *Ledger) checkExtends(ctx context.Context, latest *Checkpoint, t *tree) error {
	if t.size < latest.Size {
		return fmt.Errorf("persisted tree size %d is below the published %d", t.size, latest.Size)
	}
	if t.size == latest.Size {
		if !bytes.Equal(t.root, latest.Root) {
			return fmt.Errorf("persisted root differs from the published one at size %d", t.size)
		}
		return nil
	}
	p, err := l.ConsistencyProof(ctx, latest.Size, t.size)
	if err != nil {
		return err
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, latest.Size, t.size, p, latest.Root, t.root); err != nil {
		return fmt.Errorf("persisted tree is not consistent with the checkpoint at size %d: %w", latest.Size, err)
	}
	return nil
}
