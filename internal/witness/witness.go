package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// maxAttempts bounds how often AddCheckpoint re-reads a log's state that
// concurrent requests changed under it.
const maxAttempts = 8

// Log is a log the witness cosigns for.
type Log struct {
	// Origin is the log's origin line, the first line of its checkpoints.
	Origin string
	// Verifier checks the log's signature on its checkpoints, such as
	// note.NewVerifier makes from the log's verifier key.
	Verifier note.Verifier
}

// Config configures [New].
type Config struct {
	// Signer makes the witness's cosignatures; it should be a
	// cosignature/v1 signer from [NewSigner]. Required.
	Signer note.Signer
	// Logs are the logs the witness cosigns for. Several entries with the
	// same Origin trust several keys for that log (a key rotation).
	Logs []Log
	// State keeps the latest cosigned checkpoint of each log. Required.
	State StateStore
	// Clock stamps the records of the state; time.Now if nil. (The
	// cosignature timestamps come from the Signer's own clock.)
	Clock func() time.Time
	// Logger receives a line per cosigned checkpoint and a warning per
	// checkpoint refused as inconsistent, which may be evidence of a
	// misbehaving log; nil discards.
	Logger *slog.Logger
}

// Witness is a tlog-witness: it cosigns checkpoints of the logs it is
// configured for that are consistent with the latest one it cosigned. It
// is safe for concurrent use, also by several processes sharing one
// StateStore.
type Witness struct {
	signer  note.Signer
	logs    map[string][]note.Verifier // by origin
	state   StateStore
	clock   func() time.Time
	logger  *slog.Logger
	handler http.Handler
}

// New returns a Witness for cfg. It returns an error if cfg.Signer or
// cfg.State is nil, if the signer's name is not a valid key name, if a log
// has an empty or multi-line origin or a nil verifier, if the same key is
// listed twice for an origin, or if a log's key is the witness's own.
func New(cfg Config) (*Witness, error) {
	if cfg.Signer == nil {
		return nil, errors.New("witness: Config.Signer is required")
	}
	if !validKeyName(cfg.Signer.Name()) {
		return nil, fmt.Errorf("witness: invalid signer name %q", cfg.Signer.Name())
	}
	if cfg.State == nil {
		return nil, errors.New("witness: Config.State is required")
	}
	w := &Witness{
		signer: cfg.Signer,
		logs:   make(map[string][]note.Verifier, len(cfg.Logs)),
		state:  cfg.State,
		clock:  cfg.Clock,
		logger: cfg.Logger,
	}
	if w.clock == nil {
		w.clock = time.Now
	}
	if w.logger == nil {
		w.logger = slog.New(slog.DiscardHandler)
	}
	for i, l := range cfg.Logs {
		if l.Origin == "" || strings.Contains(l.Origin, "\n") {
			return nil, fmt.Errorf("witness: log %d: invalid origin %q", i+1, l.Origin)
		}
		if l.Verifier == nil {
			return nil, fmt.Errorf("witness: log %q: Verifier is required", l.Origin)
		}
		if l.Verifier.Name() == w.signer.Name() && l.Verifier.KeyHash() == w.signer.KeyHash() {
			return nil, fmt.Errorf("witness: log %q: its key is the witness's own", l.Origin)
		}
		for _, v := range w.logs[l.Origin] {
			if v.Name() == l.Verifier.Name() && v.KeyHash() == l.Verifier.KeyHash() {
				return nil, fmt.Errorf("witness: log %q: key %s+%08x is listed twice", l.Origin, v.Name(), v.KeyHash())
			}
		}
		w.logs[l.Origin] = append(w.logs[l.Origin], l.Verifier)
	}
	w.handler = w.newHandler()
	return w, nil
}

// AddCheckpoint is the add-checkpoint call without HTTP: it cosigns
// signedCheckpoint if it is signed by the log its origin names and
// oldSize and the consistency proof show that it extends the latest
// checkpoint the witness cosigned for that log (or, if none, if oldSize is
// 0 and the proof empty). It records the checkpoint as the latest before
// returning the witness's cosignature line(s), each "— <name> <base64>\n".
//
// Refusals are *StatusError values wrapping, in the order they are checked:
// [ErrMalformed] for more than 63 proof hashes or ones not of 32 bytes, a
// malformed note or checkpoint, or an oldSize larger than the checkpoint
// size; [ErrUnknownLog] for an origin the witness does not know;
// [ErrBadSignature] if no trusted key signed it, or a signature of a
// trusted key is invalid; [ErrStaleSize] if oldSize is not the latest
// cosigned size, which KnownSize holds; [ErrBadProof] if the proof does not
// verify (or a checkpoint of size 0 lacks the empty tree's root); [ErrFork]
// if oldSize is the checkpoint size but the root differs from the one
// cosigned; and [ErrBusy] if concurrent requests kept changing the log's
// state. Other errors are failures of the StateStore or the Signer, or a
// stored record that cannot be read.
func (w *Witness) AddCheckpoint(ctx context.Context, oldSize uint64, consistency [][]byte, signedCheckpoint []byte) ([]byte, error) {
	if len(consistency) > maxProofLines {
		return nil, refuse(ErrMalformed, "more than %d consistency proof hashes", maxProofLines)
	}
	for i, h := range consistency {
		if len(h) != hashSize {
			return nil, refuse(ErrMalformed, "consistency proof hash %d is not %d bytes", i+1, hashSize)
		}
	}
	if len(signedCheckpoint) > maxRequestSize {
		return nil, refuse(ErrMalformed, "checkpoint is larger than %d bytes", maxRequestSize)
	}
	n, cp, err := w.openCheckpoint(signedCheckpoint)
	if err != nil {
		return nil, err
	}
	if oldSize > cp.Size {
		return nil, refuse(ErrMalformed, "old size %d is larger than the checkpoint size %d", oldSize, cp.Size)
	}
	for range maxAttempts {
		st, version, err := loadState(ctx, w.state, cp.Origin)
		if err != nil {
			return nil, err
		}
		knownSize, knownRoot := uint64(0), rfc6962.DefaultHasher.EmptyRoot()
		if st != nil {
			knownSize, knownRoot = st.Size, st.Root
		}
		if oldSize != knownSize {
			se := refuse(ErrStaleSize, "old size %d is not the latest cosigned size %d", oldSize, knownSize)
			se.KnownSize = knownSize
			return nil, se
		}
		if se := verifyExtends(knownSize, knownRoot, cp, consistency); se != nil {
			// Possible evidence of a misbehaving log: keep the checkpoint.
			w.logger.WarnContext(ctx, "witness: refused an inconsistent checkpoint",
				"origin", cp.Origin, "known_size", knownSize, "size", cp.Size, "reason", se.Msg,
				"checkpoint", string(signedCheckpoint))
			return nil, se
		}
		cosig, err := w.cosign(n.Text)
		if err != nil {
			return nil, err
		}
		saved, err := saveState(ctx, w.state, &logState{
			Origin:     cp.Origin,
			Size:       cp.Size,
			Root:       cp.Root,
			Checkpoint: string(signedCheckpoint),
			Updated:    w.clock().UTC(),
		}, version)
		if err != nil {
			return nil, err
		}
		if saved {
			w.logger.InfoContext(ctx, "witness: cosigned checkpoint", "origin", cp.Origin, "old_size", oldSize, "size", cp.Size)
			return cosig, nil
		}
		// Another request changed the state since it was read: check again.
	}
	return nil, refuse(ErrBusy, "the log's state changed under concurrent requests; retry")
}

// openCheckpoint verifies the log's signature on signedCheckpoint and
// parses its body.
func (w *Witness) openCheckpoint(signedCheckpoint []byte) (*note.Note, checkpoint, error) {
	origin, _, ok := bytes.Cut(signedCheckpoint, []byte("\n"))
	if !ok {
		return nil, checkpoint{}, refuse(ErrMalformed, "checkpoint has no origin line")
	}
	keys, ok := w.logs[string(origin)]
	if !ok {
		return nil, checkpoint{}, refuse(ErrUnknownLog, "unknown log origin %.128q", origin)
	}
	n, err := note.Open(signedCheckpoint, note.VerifierList(keys...))
	switch {
	case errors.As(err, new(*note.UnverifiedNoteError)):
		return nil, checkpoint{}, refuse(ErrBadSignature, "no signature from a key trusted for %.128q", origin)
	case errors.As(err, new(*note.InvalidSignatureError)):
		return nil, checkpoint{}, refuse(ErrBadSignature, "invalid signature from a key trusted for %.128q", origin)
	case err != nil:
		return nil, checkpoint{}, refuse(ErrMalformed, "malformed signed note")
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		return nil, checkpoint{}, refuse(ErrMalformed, "malformed checkpoint: %v", err)
	}
	return n, cp, nil
}

// verifyExtends checks that cp extends the recorded tree of knownSize and
// knownRoot by the consistency proof.
func verifyExtends(knownSize uint64, knownRoot []byte, cp checkpoint, consistency [][]byte) *StatusError {
	if knownSize == cp.Size {
		if len(consistency) != 0 {
			return refuse(ErrBadProof, "the consistency proof must be empty when the old size is the checkpoint size")
		}
		if cp.Size == 0 && !bytes.Equal(cp.Root, knownRoot) {
			return refuse(ErrBadProof, "a checkpoint of size 0 must have the empty tree's root hash")
		}
		if !bytes.Equal(knownRoot, cp.Root) {
			return refuse(ErrFork, "the checkpoint's root hash differs from the cosigned checkpoint of size %d", cp.Size)
		}
		return nil
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, knownSize, cp.Size, consistency, knownRoot, cp.Root); err != nil {
		return refuse(ErrBadProof, "the consistency proof from size %d to %d does not verify", knownSize, cp.Size)
	}
	return nil
}

// cosign returns the witness's signature line(s) on the note text.
func (w *Witness) cosign(text string) ([]byte, error) {
	signed, err := note.Sign(&note.Note{Text: text}, w.signer)
	if err != nil {
		return nil, fmt.Errorf("witness: cosign: %w", err)
	}
	// note.Sign returns the text, an empty line, and the signature lines.
	return signed[len(text)+1:], nil
}
