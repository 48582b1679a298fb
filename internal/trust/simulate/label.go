package simulate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Label is one injected attack, as written beside the calls: who did
// it, with which credential, from the first of its calls to the last.
type Label struct {
	Scenario    string    `json:"scenario"`
	Identity    string    `json:"identity"`
	Credential  string    `json:"credential,omitempty"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Description string    `json:"description"`
}

// Signal is one line of a detector's output (the replay output format):
// an incident about an identity, or a credential, at a time.
type Signal struct {
	Time       time.Time      `json:"ts"`
	Identity   string         `json:"identity"`
	Credential string         `json:"credential,omitempty"`
	Kind       string         `json:"kind"`
	Severity   string         `json:"severity"`
	Evidence   map[string]any `json:"evidence,omitempty"`
}

// ErrFormat is wrapped by the errors of [ReadLabels], [ReadSignals] and
// [CallReader] for input that is not in the format.
var ErrFormat = errors.New("simulate: malformed input")

// ReadLabels reads labels, one JSON object per line; blank lines are
// skipped. It returns an error wrapping [ErrFormat], with the line
// number, for a malformed line or a label without scenario, identity or
// times.
func ReadLabels(r io.Reader) ([]Label, error) {
	var out []Label
	err := readLines(r, func(n int, line []byte) error {
		var l Label
		if err := json.Unmarshal(line, &l); err != nil {
			return fmt.Errorf("%w: labels line %d: %v", ErrFormat, n, err)
		}
		if l.Scenario == "" || l.Identity == "" || l.Start.IsZero() || l.End.Before(l.Start) {
			return fmt.Errorf("%w: labels line %d: want scenario, identity, start and an end not before it", ErrFormat, n)
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// ReadSignals reads signals, one JSON object per line; blank lines are
// skipped. It returns an error wrapping [ErrFormat], with the line
// number, for a malformed line or a signal without ts or kind.
func ReadSignals(r io.Reader) ([]Signal, error) {
	var out []Signal
	err := readLines(r, func(n int, line []byte) error {
		var s Signal
		if err := json.Unmarshal(line, &s); err != nil {
			return fmt.Errorf("%w: signals line %d: %v", ErrFormat, n, err)
		}
		if s.Time.IsZero() || s.Kind == "" {
			return fmt.Errorf("%w: signals line %d: want ts and kind", ErrFormat, n)
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// WriteSignals writes signals in the replay output format. It returns
// the first write error.
func WriteSignals(w io.Writer, signals []Signal) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range signals {
		if err := enc.Encode(&signals[i]); err != nil {
			return fmt.Errorf("write signals: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write signals: %w", err)
	}
	return nil
}

// readLines calls f with each non-blank line of r and its number.
func readLines(r io.Reader, f func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		if err := f(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

// trimSpace trims JSON white space from both ends of b.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// isSpace reports whether c is JSON white space.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
