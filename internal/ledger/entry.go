package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// MaxEntrySize is the largest entry the log holds, in bytes, index
// included.
const MaxEntrySize = 64 << 10

// entryPrefix begins every entry the ledger writes.
const entryPrefix = `{"index":`

// maxIndexLen is the length of the longest index prefix, `{"index":` and
// 20 digits and a comma, that turns an event's JSON into an entry.
const maxIndexLen = len(entryPrefix) + 20 + 1

// Entry is one entry of the log as stored.
type Entry struct {
	// Index is the entry's position in the log, from 0.
	Index uint64
	// Data is the exact leaf data: the canonical JSON of an [audit.Event] with
	// the entry's index inserted as its first field, {"index":N,...}.
	Data []byte
	// LeafHash is the stored RFC 6962 leaf hash of Data (for a verifier,
	// a claim to check, not a fact).
	LeafHash []byte
}

// appendEntry appends to dst the entry at index whose event encodes as
// body, a JSON object.
func appendEntry(dst []byte, index uint64, body []byte) []byte {
	dst = append(dst, entryPrefix...)
	dst = strconv.AppendUint(dst, index, 10)
	if len(body) <= 2 { // "{}"
		return append(dst, '}')
	}
	dst = append(dst, ',')
	return append(dst, body[1:]...)
}

// errNoIndex is wrapped by entryIndex's errors.
var errNoIndex = errors.New(`entry does not begin with {"index":N`)

// entryIndex returns the index an entry embeds as its first field, and
// checks that the entry is valid JSON. The index must be written as
// [appendEntry] writes it: decimal, without sign, leading zeros or space.
func entryIndex(data []byte) (uint64, error) {
	rest, ok := bytes.CutPrefix(data, []byte(entryPrefix))
	if !ok {
		return 0, errNoIndex
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n > 20 || (n > 1 && rest[0] == '0') || n == len(rest) || (rest[n] != ',' && rest[n] != '}') {
		return 0, errNoIndex
	}
	index, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errNoIndex, err)
	}
	if !json.Valid(data) {
		return 0, errors.New("entry is not valid JSON")
	}
	return index, nil
}
