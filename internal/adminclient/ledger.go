package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/ledger"
)

// MaxLedgerEntries is the most leaves [Client.LedgerEntries] may ask for in
// one call (the server's cap).
const MaxLedgerEntries = 1000

// LedgerKey returns the ledger's origin and the verifier key of its signed
// checkpoints. A key fetched from the server proves only that the server
// signs consistently; a verifier should get it out of band.
func (c *Client) LedgerKey(ctx context.Context) (*api.LedgerKey, error) {
	var out api.LedgerKey
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/ledger/key", out: &out}); err != nil {
		return nil, fmt.Errorf("get ledger key: %w", err)
	}
	return &out, nil
}

// Checkpoint returns the ledger's latest signed checkpoint, a C2SP signed
// note, byte for byte as served. If the ledger has signed none yet, the
// error matches [ledger.ErrNoCheckpoint] with errors.Is.
func (c *Client) Checkpoint(ctx context.Context) ([]byte, error) {
	var raw []byte
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/ledger/checkpoint", raw: &raw}); err != nil {
		if p := (*api.Problem)(nil); errors.As(err, &p) && p.Status == http.StatusNotFound {
			err = noCheckpointError{err}
		}
		return nil, fmt.Errorf("get checkpoint: %w", err)
	}
	return raw, nil
}

// noCheckpointError is the server's answer when the ledger has no
// checkpoint yet; it matches ledger.ErrNoCheckpoint.
type noCheckpointError struct{ err error }

func (e noCheckpointError) Error() string        { return e.err.Error() }
func (e noCheckpointError) Unwrap() error        { return e.err }
func (e noCheckpointError) Is(target error) bool { return target == ledger.ErrNoCheckpoint }

// Checkpoints returns up to limit of the signed checkpoints whose tree size
// is greater than afterSize, smallest first; a limit of zero means the
// server's default.
func (c *Client) Checkpoints(ctx context.Context, afterSize uint64, limit int) (*api.Checkpoints, error) {
	q := url.Values{"after_size": {strconv.FormatUint(afterSize, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out api.Checkpoints
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/ledger/checkpoints", query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	return &out, nil
}

// LedgerEntries returns the leaves with index in [start, end), at most
// [MaxLedgerEntries] of them. Each Data is compacted back to the exact leaf
// bytes, undoing the server's pretty-printing.
func (c *Client) LedgerEntries(ctx context.Context, start, end uint64) (*api.LedgerEntries, error) {
	q := url.Values{"start": {strconv.FormatUint(start, 10)}, "end": {strconv.FormatUint(end, 10)}}
	var out api.LedgerEntries
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/ledger/entries", query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("get ledger entries [%d, %d): %w", start, end, err)
	}
	for i := range out.Entries {
		data, err := compactJSON(out.Entries[i].Data)
		if err != nil {
			return nil, fmt.Errorf("get ledger entries [%d, %d): entry %d: %w", start, end, out.Entries[i].Index, err)
		}
		out.Entries[i].Data = data
	}
	return &out, nil
}

// InclusionProof returns the proof that the leaf at index is in the tree of
// the given size.
func (c *Client) InclusionProof(ctx context.Context, index, size uint64) (*api.Proof, error) {
	q := url.Values{"index": {strconv.FormatUint(index, 10)}, "size": {strconv.FormatUint(size, 10)}}
	var out api.Proof
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/ledger/proof/inclusion", query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("get inclusion proof of %d in %d: %w", index, size, err)
	}
	return &out, nil
}

// ConsistencyProof returns the proof that the tree of size from is a prefix
// of the tree of size to.
func (c *Client) ConsistencyProof(ctx context.Context, from, to uint64) (*api.Proof, error) {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}, "to": {strconv.FormatUint(to, 10)}}
	var out api.Proof
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/ledger/proof/consistency", query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("get consistency proof from %d to %d: %w", from, to, err)
	}
	return &out, nil
}

// Evidence returns the evidence bundle of the event at index: the entry,
// its inclusion proof and the signed checkpoint it leads to, for
// [ledger.VerifyEvidence] offline. The entry is compacted back to the exact
// leaf bytes, undoing the server's pretty-printing.
func (c *Client) Evidence(ctx context.Context, index uint64) (*api.Evidence, error) {
	var out api.Evidence
	path := "/v1/ledger/evidence/" + strconv.FormatUint(index, 10)
	if err := c.do(ctx, call{method: http.MethodGet, path: path, out: &out}); err != nil {
		return nil, fmt.Errorf("get evidence of %d: %w", index, err)
	}
	entry, err := compactJSON(out.Entry)
	if err != nil {
		return nil, fmt.Errorf("get evidence of %d: entry: %w", index, err)
	}
	out.Entry = entry
	return &out, nil
}

// compactJSON returns b without insignificant white space. The ledger's
// leaves are compact JSON, which the server's encoder indents when it
// embeds them in a reply.
func compactJSON(b json.RawMessage) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// ExportEvents streams every event matching f to w, in format "jsonl" (one
// api.Event object a line; the server's default when empty) or "csv" (with
// a header row). f.Limit caps the number of events, zero meaning all. It
// returns the server's *api.Problem for a bad filter or format, and an
// error if the stream breaks off, in which case w holds a partial export.
func (c *Client) ExportEvents(ctx context.Context, f EventFilter, format string, w io.Writer) error {
	q := f.query()
	setIf(q, "format", format)
	resp, err := c.send(ctx, call{method: http.MethodGet, path: "/v1/events/export", query: q})
	if err != nil {
		return fmt.Errorf("export events: %w", err)
	}
	defer resp.Body.Close()
	dst := &recordingWriter{w: w}
	if _, err := io.Copy(dst, resp.Body); err != nil {
		if dst.err != nil {
			return fmt.Errorf("export events: write: %w", err)
		}
		return fmt.Errorf("export events: stream cut off: %w", err)
	}
	return nil
}

// recordingWriter remembers the error of its writer, to tell a failed
// write from a failed read in io.Copy.
type recordingWriter struct {
	w   io.Writer
	err error
}

func (r *recordingWriter) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	if err != nil {
		r.err = err
	}
	return n, err
}
