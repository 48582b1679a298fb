package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Limits of [Parse], so that a hostile file cannot exhaust memory.
const (
	// MaxFileSize is the largest policy file Parse reads.
	MaxFileSize = 8 << 20
	// MaxDocuments is the most documents one file may hold.
	MaxDocuments = 20000
)

// Parse reads the policy documents in data, YAML with one or more
// documents separated by "---", and returns them in file order. file names
// data in positions and messages. Empty documents are skipped.
//
// Parse checks the shape of each document: known fields only, each of the
// right kind, no duplicate keys, no aliases. It returns an [ErrorList]
// whose entries give the file, line, column and field of every problem;
// [Compile] checks the contents.
func Parse(file string, data []byte) ([]Document, error) {
	if len(data) > MaxFileSize {
		return nil, ErrorList{{Pos: Position{File: file}, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	p := &parser{file: file}
	var docs []Document
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.errs = append(p.errs, yamlError(file, err))
			break
		}
		if len(docs) == MaxDocuments {
			p.errorf(&n, "", "more than %d documents in one file", MaxDocuments)
			break
		}
		root := &n
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document, such as after a final ---
		}
		docs = append(docs, p.document(root))
	}
	if err := p.errs.err(); err != nil {
		return nil, err
	}
	return docs, nil
}

// yamlError places a syntax error of the YAML decoder, whose text reads
// "yaml: line N: ...".
func yamlError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{Pos: Position{File: file}, Msg: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				e.Pos.Line, e.Pos.Column, e.Msg = line, 1, text
			}
		}
	}
	return e
}

// parser walks the nodes of one file, collecting problems.
type parser struct {
	file string
	errs ErrorList
	doc  *Document // the document being read
}

// errorf records a problem at n for field.
func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	e := &Error{Pos: Position{File: p.file, Line: n.Line, Column: n.Column}, Field: field, Msg: fmt.Sprintf(format, args...)}
	if p.doc != nil {
		e.Policy = p.doc.Name
	}
	p.errs = append(p.errs, e)
}

// mark remembers where field is.
func (p *parser) mark(n *yaml.Node, field string) {
	p.doc.pos[field] = Position{File: p.file, Line: n.Line, Column: n.Column}
	if n.Kind == yaml.ScalarNode && n.Style != 0 {
		p.doc.style[field] = n.Style
	}
}

// fields calls fn for each key and value of the mapping n, after checking
// that n is a mapping without duplicate keys or aliases. It returns false
// if n is not a mapping.
func (p *parser) fields(n *yaml.Node, field string, fn func(key string, k, v *yaml.Node, path string)) bool {
	if n.Kind == yaml.AliasNode {
		p.errorf(n, field, "aliases are not supported")
		return false
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, field, "want a mapping, got %s", kindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, field, "keys must be plain names")
			continue
		}
		path := k.Value
		if field != "" {
			path = field + "." + k.Value
		}
		if seen[k.Value] {
			p.errorf(k, path, "duplicate key")
			continue
		}
		seen[k.Value] = true
		if v.Kind == yaml.AliasNode {
			p.errorf(v, path, "aliases are not supported")
			continue
		}
		p.mark(v, path)
		fn(k.Value, k, v, path)
	}
	return true
}

// unknown reports an unknown key.
func (p *parser) unknown(k *yaml.Node, path, known string) {
	p.errorf(k, path, "unknown field (want one of %s)", known)
}

// document reads one policy document.
func (p *parser) document(n *yaml.Node) Document {
	d := Document{pos: map[string]Position{}, style: map[string]yaml.Style{}, file: p.file}
	p.doc = &d
	defer func() { p.doc = nil }()
	p.mark(n, "")
	// Read the name first, so that every message can name the policy.
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
				d.Name = n.Content[i+1].Value
			}
		}
	}
	p.fields(n, "", func(key string, k, v *yaml.Node, path string) {
		switch key {
		case "name":
			d.Name = p.str(v, path)
		case "description":
			d.Description = p.str(v, path)
		case "target":
			d.Target = p.str(v, path)
		case "mode":
			d.Mode = Mode(p.str(v, path))
		case "rules":
			p.seq(v, path, func(i int, item *yaml.Node, ipath string) {
				d.Rules = append(d.Rules, p.rule(item, ipath))
			})
		default:
			p.unknown(k, path, "name, description, target, mode, rules")
		}
	})
	return d
}

// rule reads one rule.
func (p *parser) rule(n *yaml.Node, field string) Rule {
	var r Rule
	p.fields(n, field, func(key string, k, v *yaml.Node, path string) {
		switch key {
		case "name":
			r.Name = p.str(v, path)
		case "from":
			p.fields(v, path, func(key string, k, v *yaml.Node, path string) {
				switch key {
				case "spiffe_ids":
					r.From.SPIFFEIDs = p.strs(v, path)
				case "trust_domains":
					r.From.TrustDomains = p.strs(v, path)
				case "client_ids":
					r.From.ClientIDs = p.strs(v, path)
				case "scopes":
					r.From.Scopes = p.strs(v, path)
				default:
					p.unknown(k, path, "spiffe_ids, trust_domains, client_ids, scopes")
				}
			})
		case "to":
			p.fields(v, path, func(key string, k, v *yaml.Node, path string) {
				switch key {
				case "methods":
					r.To.Methods = p.strs(v, path)
				case "hosts":
					r.To.Hosts = p.strs(v, path)
				case "paths":
					r.To.Paths = p.strs(v, path)
				default:
					p.unknown(k, path, "methods, hosts, paths")
				}
			})
		case "when":
			r.When = p.str(v, path)
		case "action":
			s := p.str(v, path)
			a, err := ParseAction(s)
			if err != nil && s != "" {
				p.errorf(v, path, "%v", err)
			}
			r.Action = a
		case "step_up":
			r.StepUp = p.stepUp(v, path)
		case "scopes":
			r.Scopes = p.strs(v, path)
		case "rate_limit":
			r.RateLimit = p.rateLimit(v, path)
		default:
			p.unknown(k, path, "name, from, to, when, action, step_up, scopes, rate_limit")
		}
	})
	return r
}

// stepUp reads a step_up block: acr (a string or a list) and max_age
// (seconds, or a duration such as "5m").
func (p *parser) stepUp(n *yaml.Node, field string) *StepUp {
	s := &StepUp{}
	p.fields(n, field, func(key string, k, v *yaml.Node, path string) {
		switch key {
		case "acr":
			s.ACR = p.strs(v, path)
		case "max_age":
			s.MaxAge = p.seconds(v, path)
		default:
			p.unknown(k, path, "acr, max_age")
		}
	})
	return s
}

// rateLimit reads a rate_limit block.
func (p *parser) rateLimit(n *yaml.Node, field string) *RateLimit {
	rl := &RateLimit{}
	p.fields(n, field, func(key string, k, v *yaml.Node, path string) {
		switch key {
		case "rps":
			if f, err := strconv.ParseFloat(p.scalar(v, path, "a number"), 64); err == nil {
				rl.RPS = f
			} else if v.Kind == yaml.ScalarNode {
				p.errorf(v, path, "want a number, got %q", v.Value)
			}
		case "burst":
			if i, err := strconv.Atoi(p.scalar(v, path, "an integer")); err == nil {
				rl.Burst = i
			} else if v.Kind == yaml.ScalarNode {
				p.errorf(v, path, "want an integer, got %q", v.Value)
			}
		default:
			p.unknown(k, path, "rps, burst")
		}
	})
	return rl
}

// seconds reads a number of seconds, or a duration such as "90s" or "5m".
func (p *parser) seconds(n *yaml.Node, field string) int64 {
	s := p.scalar(n, field, "seconds or a duration")
	if s == "" {
		return 0
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && i >= 0 {
		return i
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 && d%time.Second == 0 {
		return int64(d / time.Second)
	}
	p.errorf(n, field, "want whole seconds or a duration such as 5m, got %q", s)
	return 0
}

// scalar returns the text of a scalar node, recording a problem (want
// names what was expected) for anything else.
func (p *parser) scalar(n *yaml.Node, field, want string) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, field, "want %s, got %s", want, kindName(n))
		return ""
	}
	return n.Value
}

// str reads a string: a scalar that is not null, a boolean or a
// collection.
func (p *parser) str(n *yaml.Node, field string) string {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Tag == "!!bool") {
		p.errorf(n, field, "want a string, got %s (quote it if it is meant as text)", kindName(n))
		return ""
	}
	return p.scalar(n, field, "a string")
}

// strs reads a list of strings; a single string stands for a list of one.
func (p *parser) strs(n *yaml.Node, field string) []string {
	if n.Kind == yaml.ScalarNode {
		if s := p.str(n, field); s != "" {
			return []string{s}
		}
		return nil
	}
	var out []string
	p.seq(n, field, func(i int, item *yaml.Node, path string) {
		out = append(out, p.str(item, path))
	})
	return out
}

// seq calls fn for each item of the sequence n.
func (p *parser) seq(n *yaml.Node, field string, fn func(i int, item *yaml.Node, path string)) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, field, "want a list, got %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		path := field + "[" + strconv.Itoa(i) + "]"
		if item.Kind == yaml.AliasNode {
			p.errorf(item, path, "aliases are not supported")
			continue
		}
		p.mark(item, path)
		fn(i, item, path)
	}
}

// kindName describes a node for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean (" + n.Value + ")"
		case "!!int", "!!float":
			return "a number (" + n.Value + ")"
		}
		return "a string"
	}
	return "nothing"
}
