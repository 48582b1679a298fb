package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"
)

// write prints v as indented JSON or as YAML if cf asks for either, else
// the table that table writes (its columns separated by tabs).
func (cf *clientFlags) write(w io.Writer, v any, table func(w io.Writer)) error {
	if cf.json() {
		return cf.encode(w, v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// encode prints v in the machine format cf asks for: YAML for -o yaml,
// else indented JSON.
func (cf *clientFlags) encode(w io.Writer, v any) error {
	return writeAs(w, cf.output, v)
}

// writeAs prints v as YAML if format is "yaml", else as indented JSON.
func writeAs(w io.Writer, format string, v any) error {
	if format == "yaml" {
		return writeYAML(w, v)
	}
	return writeJSON(w, v)
}

// writeYAML prints v as YAML: its JSON form (the API's field names, in
// the API's order) in block style.
func writeYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	return enc.Close()
}

// blockStyle clears the flow and quoting styles that n took from its JSON
// source, so that it is written as YAML people write, quoted only where
// needed (a string that reads as a number or boolean is still quoted).
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
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
