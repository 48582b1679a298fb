package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Evidence proves that an entry is in the log, to anyone holding the log's
// public key and nothing else: the entry, its inclusion proof, and the
// signed checkpoint the proof leads to. Check it with [VerifyEvidence].
type Evidence struct {
	Index      uint64          `json:"index"`
	Entry      json.RawMessage `json:"entry"` // the exact leaf data
	Proof      [][]byte        `json:"inclusion_proof"`
	Checkpoint string          `json:"checkpoint"` // the signed note text
}

// Evidence returns the entry at index with its inclusion proof in the
// latest published checkpoint. It returns [ErrNoCheckpoint] if none is
// published, [ErrOutOfRange] if that checkpoint does not cover index yet
// (it will within a CheckpointInterval), an error wrapping
// [ErrInvalidCheckpoint] if the stored checkpoint does not verify, and the
// store's error if it fails.
func (l *Ledger) Evidence(ctx context.Context, index uint64) (*Evidence, error) {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if index >= cp.Size {
		return nil, errRange("entry %d is not covered by the latest checkpoint, of size %d", index, cp.Size)
	}
	entries, err := l.Entries(ctx, index, index+1)
	if err != nil {
		return nil, err
	}
	if len(entries) != 1 || entries[0].Index != index {
		return nil, fmt.Errorf("ledger: entry %d is missing from the store", index)
	}
	p, err := l.InclusionProof(ctx, index, cp.Size)
	if err != nil {
		return nil, err
	}
	return &Evidence{Index: index, Entry: entries[0].Data, Proof: p, Checkpoint: string(cp.Note)}, nil
}

// VerifyEvidence checks e offline against the log's verifier v: the
// checkpoint's signature, that the entry embeds e.Index as its first
// field, and that the inclusion proof leads from the entry's leaf hash to
// the checkpoint's root. An entry reformatted by a JSON tool (indented,
// HTML escapes undone) is accepted if compacting it gives back the logged
// bytes. It returns an error wrapping [ErrVerificationFailed] (and
// [ErrInvalidCheckpoint] for a bad checkpoint) if any check fails.
func VerifyEvidence(e *Evidence, v note.Verifier) error {
	if e == nil {
		return fmt.Errorf("%w: no evidence", ErrVerificationFailed)
	}
	cp, err := ParseCheckpoint([]byte(e.Checkpoint), v)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrVerificationFailed, err)
	}
	if e.Index >= cp.Size {
		return fmt.Errorf("%w: index %d is beyond the checkpoint's size %d", ErrVerificationFailed, e.Index, cp.Size)
	}
	// The entry as given, then as the ledger would have logged it; the
	// failure reported is that of the last form tried, the logged one.
	var last error
	for _, data := range [][]byte{e.Entry, canonicalJSON(e.Entry)} {
		if data == nil {
			continue
		}
		if last = verifyEntryInclusion(e.Index, data, e.Proof, cp); last == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: entry %d: %w", ErrVerificationFailed, e.Index, last)
}

// verifyEntryInclusion checks that data is the entry at index in the tree
// of cp.
func verifyEntryInclusion(index uint64, data []byte, p [][]byte, cp *Checkpoint) error {
	embedded, err := entryIndex(data)
	if err != nil {
		return err
	}
	if embedded != index {
		return fmt.Errorf("entry embeds index %d", embedded)
	}
	err = proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, rfc6962.DefaultHasher.HashLeaf(data), p, cp.Root)
	if m := (proof.RootMismatchError{}); errors.As(err, &m) {
		// Its text shows the roots as decimal byte lists over four lines.
		return fmt.Errorf("the inclusion proof leads to root %x, not to the checkpoint's root %x", m.CalculatedRoot, m.ExpectedRoot)
	}
	return err
}

// canonicalJSON returns data compacted and with HTML-significant
// characters escaped, as encoding/json writes it, or nil if that changes
// nothing or data is not JSON.
func canonicalJSON(data []byte) []byte {
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return nil
	}
	var escaped bytes.Buffer
	json.HTMLEscape(&escaped, compact.Bytes())
	if bytes.Equal(escaped.Bytes(), data) {
		return nil
	}
	return escaped.Bytes()
}
