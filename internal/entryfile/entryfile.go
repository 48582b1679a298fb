// Package entryfile is the file form of workload entries: a YAML or JSON
// list of entries with the admin API's field names, which `kith entry
// create -f` reads and `kith entry export` writes, so that an export
// creates the same entries again.
//
// It parses and writes; it does not validate what the registry
// validates (selectors, SPIFFE IDs, parents): the server does, for the
// whole file before anything is stored. Errors of the file's form carry
// file:line:col and the entry's index, with the nearest known field for a
// mistyped one.
package entryfile

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/didyoumean"
)

// MaxSize bounds a file.
const MaxSize = 4 << 20

// ErrFile is wrapped by the errors about a file's contents.
var ErrFile = errors.New("entry file")

// Item is one entry of a file and where it starts.
type Item struct {
	Entry        api.Entry
	Line, Column int
}

// serverFields are api.Entry's fields the server assigns: a file may not
// set them.
var serverFields = []string{"id", "created_at", "updated_at", "revision"}

// fields returns api.Entry's JSON field names a file may set.
func fields() []string {
	var out []string
	t := reflect.TypeFor[api.Entry]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && !slices.Contains(serverFields, name) {
			out = append(out, name)
		}
	}
	return out
}

// Parse reads the entries of the file called name (used in messages)
// with contents data: a YAML list, or a JSON array (JSON is YAML), of
// mappings whose keys are the admin API's entry fields. It returns an
// error wrapping [ErrFile], with file:line:col, for anything else: an
// empty list, an unknown or server-assigned field, a value of the wrong
// type, a duplicate key, YAML aliases.
func Parse(name string, data []byte) ([]Item, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrFile, name, MaxSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s: no entries", ErrFile, name)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrFile, name, err)
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: want one YAML document, a list of entries", ErrFile, name)
	}
	at := func(n *yaml.Node, format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d:%d: %s", ErrFile, name, n.Line, n.Column, fmt.Sprintf(format, args...))
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.SequenceNode {
		return nil, at(root, "want a list of entries")
	}
	if len(root.Content) == 0 {
		return nil, at(root, "no entries")
	}
	known := fields()
	items := make([]Item, 0, len(root.Content))
	for i, n := range root.Content {
		if n.Kind != yaml.MappingNode {
			return nil, at(n, "entries[%d]: want a mapping of entry fields", i)
		}
		seen := map[string]bool{}
		for k := 0; k+1 < len(n.Content); k += 2 {
			key, val := n.Content[k], n.Content[k+1]
			switch {
			case key.Kind != yaml.ScalarNode:
				return nil, at(key, "entries[%d]: a field name must be a string", i)
			case slices.Contains(serverFields, key.Value):
				return nil, at(key, "entries[%d]: %s is assigned by the server (kith entry export leaves it out)", i, key.Value)
			case !slices.Contains(known, key.Value):
				hint := ""
				if near := didyoumean.Nearest(key.Value, known); near != "" {
					hint = fmt.Sprintf(" (did you mean %q?)", near)
				}
				return nil, at(key, "entries[%d]: unknown field %q%s", i, key.Value, hint)
			case seen[key.Value]:
				return nil, at(key, "entries[%d]: %s is set twice", i, key.Value)
			case hasAlias(val):
				return nil, at(val, "entries[%d]: %s: YAML aliases are not supported", i, key.Value)
			}
			seen[key.Value] = true
			// Each field through JSON, so that it means what the API's
			// JSON means (durations, lists, maps).
			var v any
			if err := val.Decode(&v); err != nil {
				return nil, at(val, "entries[%d]: %s: %v", i, key.Value, err)
			}
			b, err := json.Marshal(map[string]any{key.Value: v})
			if err != nil {
				return nil, at(val, "entries[%d]: %s: %v", i, key.Value, err)
			}
			var probe api.Entry
			if err := json.Unmarshal(b, &probe); err != nil {
				return nil, at(val, "entries[%d]: %s: %v", i, key.Value, jsonReason(err))
			}
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, at(n, "entries[%d]: %v", i, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, at(n, "entries[%d]: %v", i, err)
		}
		var e api.Entry
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, at(n, "entries[%d]: %v", i, jsonReason(err))
		}
		items = append(items, Item{Entry: e, Line: n.Line, Column: n.Column})
	}
	return items, nil
}

// hasAlias reports whether n or a node below it is an alias.
func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

// jsonReason says what was wrong with a value, without Go type names.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := te.Type.Kind().String()
		switch te.Type.Kind() {
		case reflect.Slice:
			want = "a list"
		case reflect.Map:
			want = "a mapping"
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		}
		return fmt.Sprintf("want %s, not %s", want, te.Value)
	}
	return err.Error()
}

// Export returns e as a file entry: without the fields the server
// assigns (ID, times, revision).
func Export(e api.Entry) api.Entry {
	e.ID, e.Revision = "", 0
	e.CreatedAt, e.UpdatedAt = time.Time{}, time.Time{}
	return e
}

// Write writes entries as a file [Parse] reads back: a YAML list
// (format "yaml") or an indented JSON array ("json"), each entry without
// the fields the server assigns, in the order of their SPIFFE IDs (then
// parents and selectors), so that the same entries make the same file.
func Write(w io.Writer, entries []api.Entry, format string) error {
	out := make([]api.Entry, len(entries))
	for i, e := range entries {
		out[i] = Export(e)
	}
	slices.SortStableFunc(out, func(a, b api.Entry) int {
		return cmp.Or(strings.Compare(a.SPIFFEID, b.SPIFFEID), strings.Compare(a.ParentID, b.ParentID),
			slices.Compare(a.Selectors, b.Selectors))
	})
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("entry file: %w", err)
	}
	switch format {
	case "json":
		_, err = w.Write(append(b, '\n'))
		return err
	case "yaml":
	default:
		return fmt.Errorf("entry file: unknown format %q", format)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("entry file: %w", err)
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("entry file: %w", err)
	}
	return enc.Close()
}

// blockStyle clears the flow and quoting styles n took from its JSON
// source (strings that would read as another type stay quoted).
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
