// Package config reads Kith's configuration files: the only package that
// knows their format.
//
// A configuration file sets the flags of one long-running command (kith
// server, kith agent, kith proxy, kith witness), so every setting has one
// name, one meaning and one help text, shown by the command's -h. The
// file is a YAML mapping from flag names, without dashes, to values:
//
//	# kith proxy --config orders-proxy.yaml
//	workload-socket: /run/kith/agent/api.sock
//	dataplane-socket: /run/kith/agent/dataplane.sock
//	inbound: 0.0.0.0:8443=http://127.0.0.1:8080
//	target: spiffe://example.org/orders
//	outbound:
//	  - 127.0.0.1:9001=payments.internal:8443,spiffe://example.org/payments
//	log-level: warn
//
// A value is a scalar (string, number, boolean, duration such as 5m), or,
// for a flag whose help says it is repeatable, a list of them. A flag
// given on the command line wins over the file, entirely (a repeatable
// flag given on the command line ignores the file's list); the file wins
// over defaults, including those taken from environment variables.
// Unknown names, lists for single-valued flags, nested mappings and
// values the flag refuses are errors that name the file and line.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kith-dev/kith/internal/didyoumean"
)

// MaxFileSize bounds a configuration file.
const MaxFileSize = 1 << 20

// Flag is the name of the flag that names a configuration file; it cannot
// be set from a file.
const Flag = "config"

// ErrConfig is wrapped by the errors about a file's contents.
var ErrConfig = errors.New("config")

// Load reads the file at path and sets the flags of fs it names, except
// those already set on the command line: call it after fs.Parse.
func Load(fs *flag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return Apply(fs, path, data)
}

// Apply is Load for the contents data of the file called name (used in
// messages). Either every setting of the file is applied or, on an
// error, the flags the file names are left as they may be partly set and
// the caller must stop.
func Apply(fs *flag.FlagSet, name string, data []byte) error {
	if len(data) > MaxFileSize {
		return fmt.Errorf("%w: %s: larger than %d bytes", ErrConfig, name, MaxFileSize)
	}
	settings, err := parse(name, data)
	if err != nil {
		return err
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	// Check every setting before setting any flag.
	for _, s := range settings {
		f := fs.Lookup(s.name)
		switch {
		case s.name == Flag:
			return s.errorf("%q cannot be set in a configuration file", s.name)
		case f == nil:
			return s.errorf("unknown setting %q%s", s.name, suggest(fs, s.name))
		case s.list && !repeatable(f):
			return s.errorf("%q takes one value, not a list", s.name)
		}
	}
	for _, s := range settings {
		if onCommandLine[s.name] {
			continue
		}
		for i, v := range s.values {
			if err := fs.Set(s.name, v); err != nil {
				return s.at(s.lines[i]).errorf("invalid value %q for %q: %v", v, s.name, err)
			}
		}
	}
	return nil
}

// Names returns the setting names of the file called name with contents
// data, in file order, without checking them against any command: to
// find which command a file is for. It returns an error wrapping
// [ErrConfig] if the file is not a mapping of settings.
func Names(name string, data []byte) ([]string, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrConfig, name, MaxFileSize)
	}
	settings, err := parse(name, data)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name
	}
	return names, nil
}

// repeatable reports whether f may be given more than once: its help text
// says so, as every repeatable flag of the kith command's does.
func repeatable(f *flag.Flag) bool { return strings.Contains(f.Usage, "(repeatable") }

// setting is one name of a file with its values.
type setting struct {
	file   string
	line   int
	name   string
	list   bool
	values []string
	lines  []int // the line of each value
}

func (s setting) at(line int) setting { s.line = line; return s }

func (s setting) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s:%d: %s", ErrConfig, s.file, s.line, fmt.Sprintf(format, args...))
}

// parse reads the settings of data, in file order.
func parse(name string, data []byte) ([]setting, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF): // empty or only comments
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, name, err)
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: want one YAML document", ErrConfig, name)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" { // "---" alone
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: %s:%d: want a mapping of setting names to values", ErrConfig, name, root.Line)
	}
	var out []setting
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		s := setting{file: name, line: k.Line, name: k.Value}
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, s.errorf("a setting name must be a non-empty string")
		}
		if first, ok := seen[k.Value]; ok {
			return nil, s.errorf("%q is set twice (first on line %d)", k.Value, first)
		}
		seen[k.Value] = k.Line
		switch v.Kind {
		case yaml.ScalarNode:
			if v.Tag == "!!null" {
				return nil, s.errorf("%q has no value", k.Value)
			}
			s.values, s.lines = []string{v.Value}, []int{v.Line}
		case yaml.SequenceNode:
			s.list = true
			for _, e := range v.Content {
				if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
					return nil, s.at(e.Line).errorf("the list of %q may hold only values", k.Value)
				}
				s.values, s.lines = append(s.values, e.Value), append(s.lines, e.Line)
			}
		case yaml.AliasNode:
			return nil, s.errorf("%q: YAML aliases are not supported", k.Value)
		default:
			return nil, s.errorf("%q must be a value or a list of values", k.Value)
		}
		out = append(out, s)
	}
	return out, nil
}

// suggest returns ` (did you mean "x"?)` for the flag of fs nearest to
// name, if one is within two edits, or "".
func suggest(fs *flag.FlagSet, name string) string {
	best, bestD := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if d := didyoumean.Distance(name, f.Name); d < bestD && f.Name != Flag {
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
