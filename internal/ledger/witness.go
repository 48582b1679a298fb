package ledger

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Witness cosigns checkpoints (C2SP tlog-witness). AddCheckpoint sends the
// signed checkpoint and a consistency proof from oldSize, the size of the
// last checkpoint the witness is believed to hold (0 for none); it returns
// the witness's cosignature line(s) to append to the note
// ("— name base64sig\n"). It returns a [*ConflictError] when the witness
// holds a checkpoint of another size, and any other error when it refuses
// or cannot be reached.
//
// A Witness that also has a Verifier() note.Verifier method gets its
// cosignatures checked before they count towards the quorum.
type Witness interface {
	Name() string
	AddCheckpoint(ctx context.Context, oldSize uint64, consistency [][]byte, signedCheckpoint []byte) (cosignatures []byte, err error)
}

// ConflictError is what a Witness returns when its known size differs
// from oldSize (HTTP 409); the ledger retries once with that size.
type ConflictError struct{ KnownSize uint64 }

// Error says what size the witness holds.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("witness holds a checkpoint of size %d", e.KnownSize)
}

// witnessTimeout bounds one round of asking a witness to cosign.
const witnessTimeout = 10 * time.Second

// cosign asks every witness to cosign signed, the log-signed checkpoint
// of size, and returns the cosignature lines of those that did, in
// witness order, and how many did. Witnesses are asked in parallel;
// cosign returns when all have answered.
func (l *Ledger) cosign(ctx context.Context, size uint64, signed []byte) (lines []byte, count int) {
	if len(l.witnesses) == 0 {
		return nil, 0
	}
	ctx, cancel := context.WithTimeout(ctx, witnessTimeout)
	defer cancel()
	results := make([][]byte, len(l.witnesses))
	var wg sync.WaitGroup
	for i, w := range l.witnesses {
		wg.Go(func() {
			sigs, err := l.askWitness(ctx, i, size, signed)
			if err != nil {
				l.logger.LogAttrs(ctx, slog.LevelWarn, "ledger: witness did not cosign",
					slog.String("witness", w.Name()), slog.Uint64("size", size), slog.Any("error", err))
				return
			}
			results[i] = sigs
		})
	}
	wg.Wait()
	for _, sigs := range results {
		if sigs != nil {
			lines = append(lines, sigs...)
			count++
		}
	}
	return lines, count
}

// askWitness asks witness i to cosign and returns its checked
// cosignature lines. It retries once with the size the witness reports in
// a ConflictError. It runs while pubMu is held by the publisher; it only
// touches witnessSize[i].
func (l *Ledger) askWitness(ctx context.Context, i int, size uint64, signed []byte) ([]byte, error) {
	w := l.witnesses[i]
	for attempt := 0; ; attempt++ {
		old := l.witnessSize[i]
		if old > size {
			return nil, fmt.Errorf("witness holds size %d, beyond %d: the log or the witness has forked", old, size)
		}
		proof, err := l.ConsistencyProof(ctx, old, size)
		if err != nil {
			return nil, err
		}
		sigs, err := w.AddCheckpoint(ctx, old, proof, signed)
		var conflict *ConflictError
		if errors.As(err, &conflict) && attempt == 0 {
			l.witnessSize[i] = conflict.KnownSize
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := l.checkCosignatures(w, signed, sigs); err != nil {
			return nil, err
		}
		l.witnessSize[i] = size
		return sigs, nil
	}
}

// checkCosignatures checks that sigs is one or more well-formed signature
// lines to append to signed, none of them claiming the log's key, and
// that they verify if w can say how.
func (l *Ledger) checkCosignatures(w Witness, signed, sigs []byte) error {
	if len(sigs) == 0 || sigs[len(sigs)-1] != '\n' {
		return errors.New("cosignature lines missing or not newline-terminated")
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, "— ")
		name, sig, ok2 := strings.Cut(rest, " ")
		raw, err := base64.StdEncoding.DecodeString(sig)
		if !ok || !ok2 || name == "" || err != nil || len(raw) < 5 {
			return fmt.Errorf("malformed cosignature line %q", line)
		}
		if name == l.signer.Name() {
			return fmt.Errorf("cosignature line claims the log's key name %q", name)
		}
	}
	cosigned := append(bytes.Clone(signed), sigs...)
	if _, err := ParseCheckpoint(cosigned, l.verifier); err != nil {
		return fmt.Errorf("cosigned note does not parse: %w", err)
	}
	withVerifier, ok := w.(interface{ Verifier() note.Verifier })
	if !ok {
		return nil
	}
	v := withVerifier.Verifier()
	n, err := note.Open(cosigned, note.VerifierList(v))
	if err != nil {
		return fmt.Errorf("cosignature does not verify: %w", err)
	}
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			return nil
		}
	}
	return errors.New("no cosignature by the witness's key")
}
