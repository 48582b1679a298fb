package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Format returns the canonical form of the policy file called file (used
// in messages) with contents data, as `kith policy fmt` writes it (like
// opa fmt): every mapping's keys in the order the documentation lists
// the fields (name, description, target, mode, rules; in a rule name,
// from, to, when, action, ...), mappings in block style, lists of plain
// values in flow style ([GET, POST]), quotes only where YAML needs them,
// two-space indentation, documents separated by "---". Comments are kept
// with what they annotate. A file in canonical form is returned
// unchanged.
//
// It returns the errors of [Parse] for a file that is not valid, and an
// error if the formatted file would not mean the same policies (which
// would be a bug of Format).
func Format(file string, data []byte) ([]byte, error) {
	docs, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	encoded := 0
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		canonical(&n, reflect.TypeFor[Document]())
		if err := enc.Encode(&n); err != nil {
			return nil, fmt.Errorf("%s: format: %w", file, err)
		}
		encoded++
	}
	if encoded == 0 { // nothing but comments, or nothing
		return data, nil
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%s: format: %w", file, err)
	}
	out := buf.Bytes()
	again, err := Parse(file, out)
	if err != nil {
		return nil, fmt.Errorf("%s: formatting made the file invalid (a bug of kith policy fmt): %w", file, err)
	}
	a, _ := json.Marshal(docs)
	b, _ := json.Marshal(again)
	if !bytes.Equal(a, b) {
		return nil, fmt.Errorf("%s: formatting changed the policies' meaning (a bug of kith policy fmt)", file)
	}
	return out, nil
}

// canonical puts n, a value of Go type t, in canonical form.
func canonical(n *yaml.Node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			// A comment above the first setting is about the document:
			// it stays on top whatever comes first.
			var head string
			if c.Kind == yaml.MappingNode && len(c.Content) > 0 {
				head, c.Content[0].HeadComment = c.Content[0].HeadComment, ""
			}
			canonical(c, t)
			if head != "" {
				c.Content[0].HeadComment = strings.TrimSpace(head + "\n" + c.Content[0].HeadComment)
			}
		}
	case yaml.MappingNode:
		n.Style &^= yaml.FlowStyle
		order := fieldOrder(t)
		type pair struct{ k, v *yaml.Node }
		pairs := make([]pair, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			pairs = append(pairs, pair{n.Content[i], n.Content[i+1]})
		}
		if t.Kind() == reflect.Struct {
			rank := func(k string) int {
				if i := slices.Index(order, k); i >= 0 {
					return i
				}
				return len(order)
			}
			slices.SortStableFunc(pairs, func(a, b pair) int { return rank(a.k.Value) - rank(b.k.Value) })
		}
		n.Content = n.Content[:0]
		for _, p := range pairs {
			scalar(p.k)
			canonical(p.v, fieldType(t, p.k.Value))
			n.Content = append(n.Content, p.k, p.v)
		}
	case yaml.SequenceNode:
		elem := t
		if t.Kind() == reflect.Slice {
			elem = t.Elem()
		}
		flow := len(n.Content) > 0
		for _, c := range n.Content {
			canonical(c, elem)
			if c.Kind != yaml.ScalarNode || c.HeadComment != "" || c.LineComment != "" || c.FootComment != "" || !plainWord(c.Value) {
				flow = false
			}
		}
		if flow {
			n.Style |= yaml.FlowStyle
		} else {
			n.Style &^= yaml.FlowStyle
		}
	case yaml.ScalarNode:
		scalar(n)
	}
}

// plainWord reports whether s is a word a flow list shows without quotes:
// letters, digits, '.', '_' and '-'.
func plainWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// scalar drops the quotes of a string that needs none: the encoder
// quotes again what would otherwise read as another type or break the
// syntax. Literal and folded blocks are kept.
func scalar(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 && !strings.Contains(n.Value, "\n") {
		n.Style &^= yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle
	}
}

// fieldOrder returns the JSON names of struct type t's fields, in
// declaration order; nil for other types.
func fieldOrder(t reflect.Type) []string {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" && f.IsExported() {
			out = append(out, name)
		}
	}
	return out
}

// fieldType returns the Go type of the field of t named name in JSON, or
// an empty interface's type when t has none.
func fieldType(t reflect.Type, name string) reflect.Type {
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			f := t.Field(i)
			if n, _, _ := strings.Cut(f.Tag.Get("json"), ","); n == name {
				return f.Type
			}
		}
	}
	return reflect.TypeFor[any]()
}
