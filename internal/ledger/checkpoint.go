package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/store"
)

// Checkpoint is a signed commitment to the log's first Size entries: the
// C2SP tlog-checkpoint body "origin\nsize\nbase64(root)\n", signed as a
// C2SP signed note by the log and any witnesses.
type Checkpoint struct {
	// Origin names the log.
	Origin string
	// Size is the number of entries the checkpoint covers.
	Size uint64
	// Root is the RFC 6962 root hash of the tree of the first Size entries.
	Root []byte
	// Note is the whole signed note: the body, a blank line and one
	// signature line per signer, the log's first.
	Note []byte
	// Time is when the log published the checkpoint; zero when the
	// checkpoint was parsed from its note alone.
	Time time.Time
}

// checkpointBody returns the note text of a checkpoint.
func checkpointBody(origin string, size uint64, root []byte) []byte {
	return log.Checkpoint{Origin: origin, Size: size, Hash: root}.Marshal()
}

// ParseCheckpoint parses a signed checkpoint note and checks that it
// carries a valid signature of the log whose verifier is v; other
// signatures (witness cosignatures) are kept in Note but not checked. The
// body must be exactly "origin\nsize\nbase64(root)\n" as the ledger writes
// it: the origin is v's key name, the size decimal without leading zeros,
// the root a 32-byte hash in padded standard base64, and no extension
// lines. It returns an error wrapping [ErrInvalidCheckpoint] otherwise.
func ParseCheckpoint(msg []byte, v note.Verifier) (*Checkpoint, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: no verifier", ErrInvalidCheckpoint)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, fmt.Errorf("%w: not signed by %s+%08x", ErrInvalidCheckpoint, v.Name(), v.KeyHash())
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidCheckpoint, err)
	}
	cp, err := parseCheckpointBody(n.Text)
	if err != nil {
		return nil, err
	}
	if cp.Origin != v.Name() {
		return nil, fmt.Errorf("%w: origin %q is not the key's name %q", ErrInvalidCheckpoint, cp.Origin, v.Name())
	}
	cp.Note = bytes.Clone(msg)
	return cp, nil
}

// parseCheckpointBody parses the text of a checkpoint note, strictly: it
// must be exactly what checkpointBody writes.
func parseCheckpointBody(text string) (*Checkpoint, error) {
	var c log.Checkpoint
	rest, err := c.Unmarshal([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCheckpoint, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: unexpected extension lines", ErrInvalidCheckpoint)
	}
	if len(c.Hash) != hashSize {
		return nil, fmt.Errorf("%w: root hash of %d bytes, want %d", ErrInvalidCheckpoint, len(c.Hash), hashSize)
	}
	if string(checkpointBody(c.Origin, c.Size, c.Hash)) != text {
		return nil, fmt.Errorf("%w: not in canonical form", ErrInvalidCheckpoint)
	}
	if strings.ContainsAny(c.Origin, "\r\t") {
		return nil, fmt.Errorf("%w: origin holds control characters", ErrInvalidCheckpoint)
	}
	return &Checkpoint{Origin: c.Origin, Size: c.Size, Root: c.Hash}, nil
}

// Checkpoint returns the latest published checkpoint, after checking its
// signature. It returns [ErrNoCheckpoint] if none has been published, an
// error wrapping [ErrInvalidCheckpoint] if the stored note does not
// verify, and the store's error if it fails.
func (l *Ledger) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	row, err := l.store.LatestCheckpoint(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoCheckpoint
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return l.parseStored(row)
}

// Checkpoints returns the published checkpoints of size greater than
// afterSize, smallest first, at most limit of them (100 when zero, never
// more than 1000), after checking their signatures. It returns an error
// wrapping [ErrInvalidCheckpoint] if a stored note does not verify, and
// the store's error if it fails. To serve the history to verifiers
// unchecked, use [Ledger.Source].
func (l *Ledger) Checkpoints(ctx context.Context, afterSize uint64, limit int) ([]Checkpoint, error) {
	rows, err := l.store.ListCheckpoints(ctx, int64(min(afterSize, 1<<63-1)), limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	out := make([]Checkpoint, 0, len(rows))
	for _, row := range rows {
		cp, err := l.parseStored(row)
		if err != nil {
			return nil, err
		}
		out = append(out, *cp)
	}
	return out, nil
}

// parseStored parses and checks a stored checkpoint.
func (l *Ledger) parseStored(row store.Checkpoint) (*Checkpoint, error) {
	cp, err := ParseCheckpoint(row.Note, l.verifier)
	if err != nil {
		return nil, fmt.Errorf("ledger: stored checkpoint at size %d: %w", row.Size, err)
	}
	if cp.Size != uint64(row.Size) {
		return nil, fmt.Errorf("ledger: stored checkpoint at size %d: %w: note is for size %d", row.Size, ErrInvalidCheckpoint, cp.Size)
	}
	cp.Time = row.Time
	return cp, nil
}
