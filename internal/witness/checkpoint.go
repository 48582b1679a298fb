package witness

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// hashSize is the size of an RFC 6962 SHA-256 hash.
const hashSize = 32

// checkpoint is the body of a C2SP tlog-checkpoint: the first three lines
// of the note text. Extension lines are kept in the text only.
type checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// parseCheckpoint parses the note text of a checkpoint strictly
// (https://c2sp.org/tlog-checkpoint): at least three newline-terminated
// lines; a non-empty origin; the size in decimal without leading zeroes;
// the root as canonical base64 of a 32-byte hash; non-empty extension
// lines.
func parseCheckpoint(text string) (checkpoint, error) {
	body, ok := strings.CutSuffix(text, "\n")
	if !ok {
		return checkpoint{}, errors.New("checkpoint does not end in a newline")
	}
	lines := strings.Split(body, "\n")
	if len(lines) < 3 {
		return checkpoint{}, errors.New("checkpoint has fewer than three lines")
	}
	if lines[0] == "" {
		return checkpoint{}, errors.New("checkpoint origin is empty")
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint size: %w", err)
	}
	root, err := parseHash(lines[2])
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint root: %w", err)
	}
	for _, l := range lines[3:] {
		if l == "" {
			return checkpoint{}, errors.New("checkpoint has an empty extension line")
		}
	}
	return checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

// parseDecimal parses s as an unsigned 64-bit decimal with no sign and no
// leading zeroes, the only encoding the C2SP specs allow.
func parseDecimal(s string) (uint64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%.32q is not a canonical decimal", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%.32q is out of range", s)
	}
	return n, nil
}

// parseHash decodes s, which must be the canonical standard base64 of a
// 32-byte hash.
func parseHash(s string) ([]byte, error) {
	h, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(h) != hashSize || base64.StdEncoding.EncodeToString(h) != s {
		return nil, fmt.Errorf("%.64q is not a base64 %d-byte hash", s, hashSize)
	}
	return h, nil
}
