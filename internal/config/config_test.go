package config_test

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/config"
)

// list is a repeatable flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// flags is a command's flag set, as the kith command registers them.
type flags struct {
	fs       *flag.FlagSet
	listen   string
	level    string
	ttl      time.Duration
	rate     float64
	gateway  bool
	outbound list
}

func newFlags() *flags {
	f := &flags{fs: flag.NewFlagSet("kith test", flag.ContinueOnError)}
	f.fs.SetOutput(io.Discard)
	f.fs.String(config.Flag, "", "configuration file")
	f.fs.StringVar(&f.listen, "listen", "127.0.0.1:8443", "address")
	f.fs.StringVar(&f.level, "log-level", "info", "log level")
	f.fs.DurationVar(&f.ttl, "token-ttl", 0, "token lifetime")
	f.fs.Float64Var(&f.rate, "token-client-rate", 0, "rate")
	f.fs.BoolVar(&f.gateway, "gateway", false, "gateway mode")
	f.fs.Var(&f.outbound, "outbound", "LISTEN=DEST (repeatable)")
	return f
}

func TestApply(t *testing.T) {
	f := newFlags()
	if err := f.fs.Parse([]string{"--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	file := `# a proxy
listen: 0.0.0.0:9443
log-level: warn        # the command line says debug: it wins
token-ttl: 2m
token-client-rate: 12.5
gateway: true
outbound:
  - 127.0.0.1:9001=payments:8443
  - 127.0.0.1:9002=ledger:8443
`
	if err := config.Apply(f.fs, "proxy.yaml", []byte(file)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if f.listen != "0.0.0.0:9443" || f.level != "debug" || f.ttl != 2*time.Minute || f.rate != 12.5 || !f.gateway ||
		f.outbound.String() != "127.0.0.1:9001=payments:8443,127.0.0.1:9002=ledger:8443" {
		t.Errorf("flags = %+v", *f)
	}
}

// TestCommandLineWinsWholeList: a repeatable flag given on the command
// line ignores the file's list rather than adding to it.
func TestCommandLineWinsWholeList(t *testing.T) {
	f := newFlags()
	if err := f.fs.Parse([]string{"--outbound", "a=b"}); err != nil {
		t.Fatal(err)
	}
	if err := config.Apply(f.fs, "c.yaml", []byte("outbound: [c=d, e=f]\n")); err != nil {
		t.Fatal(err)
	}
	if f.outbound.String() != "a=b" {
		t.Errorf("outbound = %q, want only the command line's", f.outbound.String())
	}
}

func TestApplyEmpty(t *testing.T) {
	for _, file := range []string{"", "# nothing\n", "---\n", "{}\n"} {
		f := newFlags()
		if err := config.Apply(f.fs, "c.yaml", []byte(file)); err != nil {
			t.Errorf("Apply(%q): %v", file, err)
		}
		if f.listen != "127.0.0.1:8443" {
			t.Errorf("Apply(%q) changed listen to %q", file, f.listen)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"unknown", "listen: x\nlistn: y\n", `c.yaml:2: unknown setting "listn" (did you mean "listen"?)`},
		{"unknown far", "color: blue\n", `c.yaml:1: unknown setting "color"`},
		{"list for single", "log-level: [info, debug]\n", `c.yaml:1: "log-level" takes one value, not a list`},
		{"mapping value", "listen:\n  host: x\n", `c.yaml:1: "listen" must be a value or a list of values`},
		{"null", "listen:\n", `c.yaml:1: "listen" has no value`},
		{"null in list", "outbound: [a, ~]\n", `c.yaml:1: the list of "outbound" may hold only values`},
		{"nested list", "outbound: [[a]]\n", `may hold only values`},
		{"twice", "listen: a\nlisten: b\n", `c.yaml:2: "listen" is set twice (first on line 1)`},
		{"config itself", "config: other.yaml\n", `"config" cannot be set in a configuration file`},
		{"bad duration", "token-ttl: soon\n", `c.yaml:1: invalid value "soon" for "token-ttl"`},
		{"bad bool", "gateway: yes\n", `invalid value "yes" for "gateway"`},
		{"bad value in list line", "outbound:\n  - a\n  - b\nlog-level: [x]\n", `c.yaml:4:`},
		{"not a mapping", "- listen\n", `c.yaml:1: want a mapping`},
		{"scalar document", "listen\n", `want a mapping`},
		{"two documents", "listen: a\n---\nlisten: b\n", `want one YAML document`},
		{"syntax", "listen: [a\n", `c.yaml: yaml:`},
		{"alias", "log-level: &x warn\nlisten: *x\n", `c.yaml:2: "listen": YAML aliases are not supported`},
		{"non-string key", "[a]: b\n", `a setting name must be a non-empty string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlags()
			err := config.Apply(f.fs, "c.yaml", []byte(tt.file))
			if !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Apply = %v, want a config error containing %q", err, tt.want)
			}
		})
	}
}

// TestApplyChecksBeforeSetting: a file with an unknown name sets nothing.
func TestApplyChecksBeforeSetting(t *testing.T) {
	f := newFlags()
	if err := config.Apply(f.fs, "c.yaml", []byte("listen: 0.0.0.0:1\nbogus: 1\n")); err == nil {
		t.Fatal("Apply accepted an unknown setting")
	}
	if f.listen != "127.0.0.1:8443" {
		t.Errorf("listen = %q: set although the file was refused", f.listen)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kith.yaml")
	if err := os.WriteFile(path, []byte("listen: 10.0.0.1:8443\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFlags()
	if err := config.Load(f.fs, path); err != nil || f.listen != "10.0.0.1:8443" {
		t.Errorf("Load = %v, listen %q", err, f.listen)
	}
	if err := config.Load(newFlags().fs, filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("Load of a missing file = %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", config.MaxFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := config.Load(newFlags().fs, big); !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load of a too large file = %v", err)
	}
}

// FuzzApply checks that no file makes Apply panic, and that a file it
// accepts sets only known flags.
func FuzzApply(f *testing.F) {
	f.Add([]byte("listen: a\noutbound: [b, c]\ngateway: true\n"))
	f.Add([]byte("a: &x [1, *x]\n"))
	f.Add([]byte("? [a]\n: b\n"))
	f.Add([]byte("listen: !!binary aGVsbG8=\n"))
	f.Add([]byte("---\n...\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl := newFlags()
		if err := config.Apply(fl.fs, "fuzz.yaml", data); err != nil && !errors.Is(err, config.ErrConfig) {
			t.Fatalf("Apply error %v does not wrap ErrConfig", err)
		}
	})
}
