package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// write prints v as indented JSON if cf asks for JSON, else the table that
// table writes (its columns separated by tabs).
func (cf *clientFlags) write(w io.Writer, v any, table func(w io.Writer)) error {
	if cf.json() {
		return writeJSON(w, v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// orDash returns s, or "-" if it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// list joins vs with commas, or returns "-" if there are none.
func list(vs []string) string { return orDash(strings.Join(vs, ",")) }

// timeText formats t in RFC 3339, or returns "-" if it is zero.
func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}
