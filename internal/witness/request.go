package witness

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

// maxProofLines is the most consistency proof lines a client may send: a
// proof between trees of up to 2^64 leaves has at most 63 + 1 hashes, and
// the protocol caps it at 63.
const maxProofLines = 63

// addCheckpointRequest is the body of an add-checkpoint request.
type addCheckpointRequest struct {
	OldSize    uint64
	Proof      [][]byte
	Checkpoint []byte // the signed note, as sent
}

// parseAddCheckpoint parses an add-checkpoint request body: "old <size>",
// up to 63 base64 proof hashes, each on its own line, an empty line, and
// the signed checkpoint. It checks the framing only; the checkpoint is
// checked by [Witness.AddCheckpoint]. Errors describe the input and are
// safe to return to the client.
func parseAddCheckpoint(body []byte) (addCheckpointRequest, error) {
	var req addCheckpointRequest
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return req, errors.New("missing old size line")
	}
	size, ok := bytes.CutPrefix(line, []byte("old "))
	if !ok {
		return req, errors.New(`first line does not start with "old "`)
	}
	var err error
	if req.OldSize, err = parseDecimal(string(size)); err != nil {
		return req, fmt.Errorf("old size: %w", err)
	}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return req, errors.New("missing empty line before the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		if len(req.Proof) == maxProofLines {
			return req, fmt.Errorf("more than %d consistency proof lines", maxProofLines)
		}
		h, err := parseHash(string(line))
		if err != nil {
			return req, fmt.Errorf("consistency proof line %d: %w", len(req.Proof)+1, err)
		}
		req.Proof = append(req.Proof, h)
	}
	if len(rest) == 0 {
		return req, errors.New("missing checkpoint")
	}
	req.Checkpoint = rest
	return req, nil
}

// formatAddCheckpoint returns the add-checkpoint request body for oldSize,
// proof and signedCheckpoint. It returns an error if the proof has more
// than 63 hashes or a hash that is not 32 bytes, or if signedCheckpoint is
// empty.
func formatAddCheckpoint(oldSize uint64, proof [][]byte, signedCheckpoint []byte) ([]byte, error) {
	if len(proof) > maxProofLines {
		return nil, fmt.Errorf("consistency proof has %d hashes, more than %d", len(proof), maxProofLines)
	}
	if len(signedCheckpoint) == 0 {
		return nil, errors.New("empty checkpoint")
	}
	b := make([]byte, 0, 32+len(proof)*45+len(signedCheckpoint))
	b = append(b, "old "...)
	b = strconv.AppendUint(b, oldSize, 10)
	b = append(b, '\n')
	for i, h := range proof {
		if len(h) != hashSize {
			return nil, fmt.Errorf("consistency proof hash %d has %d bytes, want %d", i+1, len(h), hashSize)
		}
		b = base64.StdEncoding.AppendEncode(b, h)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, signedCheckpoint...), nil
}
