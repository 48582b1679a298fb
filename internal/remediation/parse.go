package remediation

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kith-dev/kith/internal/didyoumean"
	"github.com/kith-dev/kith/internal/trust"
)

// Limits of [Parse], so that a hostile file cannot exhaust memory.
const (
	// MaxFileSize is the largest ladder file Parse reads.
	MaxFileSize = 1 << 20
	// MaxLadders is the most ladders one file may hold.
	MaxLadders = 1000
	// MaxSteps is the most steps one ladder may hold.
	MaxSteps = 32
)

// Parse reads a ladder file: one YAML document, a mapping with the keys
// webhook and ladders (see README, "Remediation"). file names data in
// positions and messages.
//
// It checks shape and contents — known fields only, each of the right
// kind, no duplicate keys or aliases, valid names, patterns, levels,
// actions, durations and guard rails — and fills the defaults: mode
// dry_run, min_signals 1, cooldown 10m, max_quarantine_share 0.5. It
// returns an [ErrorList] placing each problem at file:line:col with its
// field, and a did-you-mean for a misspelt name.
func Parse(file string, data []byte) (*File, error) {
	p := &parser{file: file, names: map[string]int{}}
	if len(data) > MaxFileSize {
		return nil, ErrorList{{Pos: Position{File: file}, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	switch {
	case errors.Is(err, io.EOF):
		return nil, ErrorList{{Pos: Position{File: file}, Msg: "the file defines no ladders"}}
	case err != nil:
		return nil, ErrorList{yamlError(file, err)}
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		return nil, ErrorList{{Pos: Position{File: file}, Msg: "want one YAML document (remove the second ---)"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	f := p.top(root)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return f, nil
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
	file   string
	errs   ErrorList
	ladder string         // name of the ladder being read
	names  map[string]int // line of each ladder name read
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: Position{File: p.file, Line: n.Line, Column: n.Column},
		Ladder: p.ladder, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// fields calls fn for each key and value of the mapping n, refusing
// duplicate keys, aliases and keys not in known (with a did-you-mean).
func (p *parser) fields(n *yaml.Node, field string, known []string, fn func(key string, v *yaml.Node, path string)) {
	if n.Kind == yaml.AliasNode {
		p.errorf(n, field, "aliases are not supported")
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, field, "want a mapping, got %s", kindName(n))
		return
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
		switch {
		case seen[k.Value]:
			p.errorf(k, path, "duplicate key")
			continue
		case !contains(known, k.Value):
			if s := didyoumean.Nearest(k.Value, known); s != "" {
				p.errorf(k, path, "unknown field (did you mean %q?)", s)
			} else {
				p.errorf(k, path, "unknown field (want one of %s)", strings.Join(known, ", "))
			}
			continue
		case v.Kind == yaml.AliasNode:
			p.errorf(v, path, "aliases are not supported")
			continue
		}
		seen[k.Value] = true
		fn(k.Value, v, path)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// top reads the top-level mapping.
func (p *parser) top(n *yaml.Node) *File {
	f := &File{}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		p.errorf(n, "", "the file defines no ladders")
		return f
	}
	var ladders *yaml.Node
	p.fields(n, "", []string{"webhook", "ladders"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "webhook":
			f.Webhook = p.webhook(v, path)
		case "ladders":
			ladders = v
			p.seq(v, path, func(item *yaml.Node, ipath string) {
				if len(f.Ladders) == MaxLadders {
					p.errorf(item, ipath, "more than %d ladders", MaxLadders)
					return
				}
				f.Ladders = append(f.Ladders, p.ladderOf(item, ipath))
			})
		}
	})
	if n.Kind == yaml.MappingNode && ladders == nil {
		p.errorf(n, "", "the file defines no ladders (want a ladders: list)")
	} else if ladders != nil && ladders.Kind == yaml.SequenceNode && len(ladders.Content) == 0 {
		p.errorf(ladders, "ladders", "the list is empty")
	}
	return f
}

// webhook reads the webhook block.
func (p *parser) webhook(n *yaml.Node, field string) *WebhookSpec {
	w := &WebhookSpec{}
	var hasURL, hasSecret bool
	p.fields(n, field, []string{"url", "secret_file", "timeout", "attempts", "queue"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "url":
			hasURL = true
			w.URL = p.str(v, path)
			if w.URL != "" {
				if err := checkWebhookURL(w.URL); err != nil {
					p.errorf(v, path, "%v", err)
				}
			}
		case "secret_file":
			hasSecret = true
			if w.SecretFile = p.str(v, path); w.SecretFile == "" && v.Kind == yaml.ScalarNode {
				p.errorf(v, path, "want a file name")
			}
		case "timeout":
			if w.Timeout = p.duration(v, path); w.Timeout == 0 && v.Kind == yaml.ScalarNode {
				p.errorf(v, path, "want a duration above zero, such as 5s")
			}
		case "attempts":
			w.Attempts = p.intIn(v, path, 1, 20)
		case "queue":
			w.Queue = p.intIn(v, path, 1, 1_000_000)
		}
	})
	if n.Kind == yaml.MappingNode {
		if !hasURL {
			p.errorf(n, field, "url is required")
		}
		if !hasSecret {
			p.errorf(n, field, "secret_file is required: deliveries are signed")
		}
	}
	return w
}

// checkWebhookURL accepts an https URL, or http to a loopback address.
func checkWebhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.User != nil || u.Fragment != "" {
		return errors.New("the URL must not hold user information or a fragment")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return errors.New("the URL has no host")
		}
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
		return errors.New("want https (http only to a loopback address)")
	}
	return fmt.Errorf("want an https URL, got scheme %q", u.Scheme)
}

var ladderFields = []string{"name", "description", "identities", "allow", "mode", "min_signals", "min_severity",
	"cooldown", "max_quarantine_share", "steps"}

// ladderOf reads one ladder, filling the defaults.
func (p *parser) ladderOf(n *yaml.Node, field string) Ladder {
	l := Ladder{Mode: ModeDryRun, Cooldown: DefaultCooldown, MaxQuarantineShare: DefaultMaxQuarantineShare,
		Evidence: Evidence{Signals: DefaultMinSignals}}
	p.ladder = ""
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
				p.ladder = n.Content[i+1].Value
			}
		}
	}
	defer func() { p.ladder = "" }()
	var hasName, hasIDs, hasSteps bool
	p.fields(n, field, ladderFields, func(key string, v *yaml.Node, path string) {
		switch key {
		case "name":
			hasName = true
			l.Name = p.str(v, path)
			if l.Name != "" && !validName(l.Name) {
				p.errorf(v, path, "want 1 to 128 letters, digits, '.', '_' or '-'")
			}
			if first, ok := p.names[l.Name]; ok && l.Name != "" {
				p.errorf(v, path, "another ladder has this name (line %d)", first)
			} else if l.Name != "" {
				p.names[l.Name] = v.Line
			}
		case "description":
			l.Description = p.str(v, path)
		case "identities":
			hasIDs = true
			l.Identities = p.patterns(v, path)
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				p.errorf(v, path, "the list is empty: the ladder would select no caller")
			}
		case "allow":
			l.Allow = p.patterns(v, path)
		case "mode":
			s := p.str(v, path)
			switch Mode(s) {
			case ModeDryRun, ModeEnforce:
				l.Mode = Mode(s)
			default:
				p.errorf(v, path, "unknown mode %q%s", s, suggest(s, []string{string(ModeDryRun), string(ModeEnforce)}))
			}
		case "min_signals":
			l.Evidence.Signals = p.intIn(v, path, 1, 100)
		case "min_severity":
			l.Evidence.Severity = p.severity(v, path)
		case "cooldown":
			if l.Cooldown = p.duration(v, path); l.Cooldown == 0 && v.Kind == yaml.ScalarNode {
				p.errorf(v, path, "want a duration above zero, such as 10m")
				l.Cooldown = DefaultCooldown
			}
		case "max_quarantine_share":
			l.MaxQuarantineShare = p.share(v, path)
		case "steps":
			hasSteps = true
			p.seq(v, path, func(item *yaml.Node, ipath string) {
				if len(l.Steps) == MaxSteps {
					p.errorf(item, ipath, "more than %d steps", MaxSteps)
					return
				}
				l.Steps = append(l.Steps, p.step(item, ipath))
			})
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				p.errorf(v, path, "the list is empty")
			}
		}
	})
	if n.Kind == yaml.MappingNode {
		for _, req := range []struct {
			has  bool
			name string
		}{{hasName, "name"}, {hasIDs, "identities"}, {hasSteps, "steps"}} {
			if !req.has {
				p.errorf(n, field, "%s is required", req.name)
			}
		}
	}
	return l
}

// validName reports whether s is 1 to 128 letters, digits, '.', '_' or
// '-'.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// step reads one step.
func (p *parser) step(n *yaml.Node, field string) Step {
	var s Step
	var hasLevel, hasAction bool
	p.fields(n, field, []string{"level", "after", "action", "min_signals", "min_severity"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "level":
			hasLevel = true
			s.Level = p.level(v, path)
		case "after":
			s.After = p.duration(v, path)
		case "action":
			hasAction = true
			a := p.str(v, path)
			s.Action = Action(a)
			if a != "" && !s.Action.valid() {
				names := make([]string, len(allActions))
				for i, x := range allActions {
					names[i] = string(x)
				}
				p.errorf(v, path, "unknown action %q%s", a, suggest(a, names))
			}
		case "min_signals":
			s.Evidence.Signals = p.intIn(v, path, 1, 100)
		case "min_severity":
			s.Evidence.Severity = p.severity(v, path)
		}
	})
	if n.Kind == yaml.MappingNode {
		if !hasLevel {
			p.errorf(n, field, "level is required")
		}
		if !hasAction {
			p.errorf(n, field, "action is required")
		}
	}
	return s
}

// suggest returns ` (did you mean "x"?)` for the candidate nearest to s,
// or ` (want one of a, b)`.
func suggest(s string, candidates []string) string {
	if n := didyoumean.Nearest(s, candidates); n != "" {
		return fmt.Sprintf(" (did you mean %q?)", n)
	}
	return " (want one of " + strings.Join(candidates, ", ") + ")"
}

// level reads a trust level below high.
func (p *parser) level(n *yaml.Node, field string) trust.Level {
	s := p.str(n, field)
	if s == "" {
		return trust.LevelUntrusted
	}
	for _, l := range []trust.Level{trust.LevelMedium, trust.LevelLow, trust.LevelUntrusted} {
		if s == l.String() {
			return l
		}
	}
	if s == trust.LevelHigh.String() {
		p.errorf(n, field, "every caller is at or below high; want medium, low or untrusted")
	} else {
		p.errorf(n, field, "unknown level %q%s", s, suggest(s, []string{"medium", "low", "untrusted"}))
	}
	return trust.LevelUntrusted
}

// severity reads a severity name.
func (p *parser) severity(n *yaml.Node, field string) trust.Severity {
	s := p.str(n, field)
	var sev trust.Severity
	if s != "" && sev.UnmarshalText([]byte(s)) != nil {
		p.errorf(n, field, "unknown severity %q%s", s, suggest(s, []string{"low", "medium", "high", "critical"}))
	}
	return sev
}

// patterns reads a list of identity patterns (a single one stands for a
// list of one).
func (p *parser) patterns(n *yaml.Node, field string) []string {
	var out []string
	add := func(item *yaml.Node, path string) {
		s := p.str(item, path)
		if s == "" {
			if item.Kind == yaml.ScalarNode && item.Tag != "!!null" && item.Tag != "!!bool" {
				p.errorf(item, path, "empty pattern")
			}
			return
		}
		if _, err := compilePattern(s); err != nil {
			p.errorf(item, path, "%v", err)
			return
		}
		out = append(out, s)
	}
	if n.Kind == yaml.ScalarNode {
		add(n, field)
		return out
	}
	p.seq(n, field, add)
	return out
}

// duration reads a duration such as "90s" or "10m"; zero for "0".
func (p *parser) duration(n *yaml.Node, field string) time.Duration {
	s := p.scalar(n, field, "a duration")
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.errorf(n, field, "want a duration such as 10m or 1h30m, got %q", s)
		return 0
	}
	return d
}

// intIn reads an integer from lo to hi.
func (p *parser) intIn(n *yaml.Node, field string, lo, hi int) int {
	s := p.scalar(n, field, "an integer")
	if s == "" {
		return lo
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < lo || i > hi {
		p.errorf(n, field, "want an integer from %d to %d, got %q", lo, hi, s)
		return lo
	}
	return i
}

// share reads a share above 0 and at most 1 (a number such as 0.5, or a
// percentage such as 50%).
func (p *parser) share(n *yaml.Node, field string) float64 {
	s := p.scalar(n, field, "a share")
	if s == "" {
		return DefaultMaxQuarantineShare
	}
	num, pct := strings.CutSuffix(s, "%")
	f, err := strconv.ParseFloat(num, 64)
	if pct {
		f /= 100
	}
	if err != nil || math.IsNaN(f) || f <= 0 || f > 1 {
		p.errorf(n, field, "want a share above 0 and at most 1 (0.5, or 50%%), got %q", s)
		return DefaultMaxQuarantineShare
	}
	return f
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

// seq calls fn for each item of the sequence n.
func (p *parser) seq(n *yaml.Node, field string, fn func(item *yaml.Node, path string)) {
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
		fn(item, path)
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
