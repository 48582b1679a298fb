package callrecord

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxBatch is the most records in one batch, on the data-plane socket and
// on the agent API alike.
const MaxBatch = 1024

// errEmpty is returned by DecodeRecords for an empty batch.
var errEmpty = errors.New("empty batch")

// A batch is the JSON array of its records, as encoding/json writes a
// []Record; the decoders below are the receivers' side.

// DecodeBatch decodes and validates a batch: a non-empty JSON array of at
// most [MaxBatch] valid records and nothing after it. It returns an error
// wrapping [ErrInvalid]. The agent takes a proxy's batch with it.
func DecodeBatch(body []byte) ([]Record, error) {
	batch, err := DecodeRecords(body)
	if err != nil {
		return nil, err
	}
	for i := range batch {
		if err := batch[i].Validate(); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
	return batch, nil
}

// DecodeRecords is DecodeBatch without validating the records, for a
// receiver that checks each record on its own (the server, with
// [Accept]).
func DecodeRecords(body []byte) ([]Record, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var batch []Record
	if err := dec.Decode(&batch); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	switch {
	case len(batch) == 0:
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errEmpty)
	case len(batch) > MaxBatch:
		return nil, fmt.Errorf("%w: %d records, limit %d", ErrInvalid, len(batch), MaxBatch)
	}
	return batch, nil
}

// BatchHeader names the agent's batch of records it sends the server:
// "RUN FIRST END" (see [BatchID]). A batch sent again after a failure
// keeps the numbers, so the server can leave out the records it has
// already recorded.
const BatchHeader = "Kith-Telemetry-Batch"

// BatchID is the value of [BatchHeader]: RUN identifies the agent
// process (a random token) and the batch's records carry its sequence
// numbers First to End-1.
type BatchID struct {
	Run        string // at most 64 bytes, no space
	First, End uint64 // the records' sequence numbers: First to End-1
}

// String returns b in the header's form.
func (b BatchID) String() string { return fmt.Sprintf("%s %d %d", b.Run, b.First, b.End) }

// ParseBatchID parses the header of a batch of n records; it reports
// false for a malformed header or one that does not number n records.
func ParseBatchID(h string, n int) (BatchID, bool) {
	f := strings.Fields(h)
	if len(f) != 3 || len(f[0]) > 64 {
		return BatchID{}, false
	}
	first, err1 := strconv.ParseUint(f[1], 10, 64)
	end, err2 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil || end < first || end-first != uint64(n) {
		return BatchID{}, false
	}
	return BatchID{Run: f[0], First: first, End: end}, true
}
