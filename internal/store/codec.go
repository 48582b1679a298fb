package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// Column encodings shared by both back ends:
//
//   - time.Time: BIGINT microseconds since the Unix epoch, UTC; NULL for
//     the zero time.
//   - time.Duration: BIGINT nanoseconds.
//   - []string and map[string]string: JSON text; "[]" and "{}" when empty.
//   - []byte: BLOB / BYTEA, never NULL; empty when nil.
//   - bool: INTEGER / BIGINT, 1 or 0.

// boolArg encodes a flag as an integer column, 1 or 0, the same in both
// dialects.
func boolArg(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// timeArg returns the column value for t.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// timeCol scans a column written by timeArg into *t.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("time column holds %T, want integer", src)
	}
	return nil
}

// bytesArg returns the column value for b: never NULL.
func bytesArg(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// bytesCol scans a byte column into *b, leaving nil for an empty value.
type bytesCol struct{ b *[]byte }

// Scan implements sql.Scanner.
func (c bytesCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.b = nil
	case []byte:
		if len(v) == 0 {
			*c.b = nil
		} else {
			*c.b = append([]byte(nil), v...) // src is only valid until the next Scan
		}
	case string:
		*c.b = nil
		if v != "" {
			*c.b = []byte(v)
		}
	default:
		return fmt.Errorf("byte column holds %T", src)
	}
	return nil
}

// stringsArg returns the JSON text for a string slice; "[]" when empty.
func stringsArg(v []string) (string, error) {
	if len(v) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// labelsArg returns the JSON text for a string map; "{}" when empty. Keys
// are sorted, so equal maps give equal text.
func labelsArg(v map[string]string) (string, error) {
	if len(v) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// jsonCol scans JSON text into *v, leaving nil when it is empty.
type jsonCol[T ~[]string | ~map[string]string] struct{ v *T }

// Scan implements sql.Scanner.
func (c jsonCol[T]) Scan(src any) error {
	var text []byte
	switch s := src.(type) {
	case nil:
	case string:
		text = []byte(s)
	case []byte:
		text = s
	default:
		return fmt.Errorf("JSON column holds %T", src)
	}
	var v T
	if len(text) > 0 {
		if err := json.Unmarshal(text, &v); err != nil {
			return fmt.Errorf("JSON column: %w", err)
		}
	}
	if len(v) == 0 {
		var empty T // nil
		v = empty
	}
	*c.v = v
	return nil
}
