package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kith-dev/kith/internal/clidoc"
)

var update = flag.Bool("update", false, "rewrite docs/cli.md from the commands' help")

// cliReference is the generated CLI reference, from this package's folder.
const cliReference = "../../docs/cli.md"

// TestCLIReference fails when docs/cli.md is not what the commands' help
// says; go generate ./cmd/kith (or this test with -update) rewrites it.
func TestCLIReference(t *testing.T) {
	root, err := commandTree(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := clidoc.Markdown(&buf, root, "`go generate ./cmd/kith`"); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(cliReference, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(cliReference)
	if err != nil {
		t.Fatalf("%v (run go generate ./cmd/kith)", err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("docs/cli.md is stale: run go generate ./cmd/kith (or go test ./cmd/kith -run TestCLIReference -update)")
	}
}

// leaf is a command of the tree with what runs it.
type leaf struct {
	path []string
	fs   *flag.FlagSet // nil for a group without flags
	help string
}

// leaves walks kith's commands through their -h, as commandTree does,
// keeping each command's FlagSet.
func leaves(t *testing.T) []leaf {
	t.Helper()
	var out []leaf
	var visit func(path []string, run func(context.Context, []string, io.Writer, io.Writer) error)
	visit = func(path []string, run func(context.Context, []string, io.Writer, io.Writer) error) {
		var buf bytes.Buffer
		err := run(t.Context(), []string{"-h"}, &buf, &buf)
		var h *helpShown
		if !errors.As(err, &h) {
			t.Fatalf("kith %s -h: %v", strings.Join(path, " "), err)
		}
		out = append(out, leaf{path: path, fs: h.fs, help: buf.String()})
		for _, s := range h.subs {
			visit(append(path[:len(path):len(path)], s.name), s.run)
		}
	}
	for _, c := range commands() {
		visit([]string{c.name}, c.run)
	}
	return out
}

// TestExamples: every command's help has an Examples section, and every
// example runs a command that exists with flags it has.
func TestExamples(t *testing.T) {
	var top bytes.Buffer
	printUsage(&top)
	if !strings.Contains(top.String(), "\nExamples:\n") {
		t.Errorf("kith help has no Examples section")
	}
	all := leaves(t)
	byPath := map[string]leaf{}
	for _, l := range all {
		byPath[strings.Join(l.path, " ")] = l
	}
	for _, l := range all {
		name := strings.Join(l.path, " ")
		if !strings.Contains(l.help, "\nExamples:\n") {
			t.Errorf("kith %s -h has no Examples section", name)
			continue
		}
		for _, line := range strings.Split(examples(name), "\n") {
			words := shellWords(line)
			if len(words) == 0 || words[0] != "kith" {
				continue
			}
			// The longest command path the words start with.
			i := 1
			for i < len(words) {
				if _, ok := byPath[strings.Join(words[1:i+1], " ")]; !ok {
					break
				}
				i++
			}
			target, ok := byPath[strings.Join(words[1:i], " ")]
			if !ok {
				if i == 1 && (len(words) == 1 || words[1] == "help") {
					continue // kith, kith help X
				}
				t.Errorf("example of kith %s runs no command: %s", name, line)
				continue
			}
			if target.fs == nil {
				t.Errorf("example of kith %s runs the group %q without a command: %s", name, strings.Join(words[1:i], " "), line)
				continue
			}
			// A value the shell would expand cannot be checked here.
			if err := parseOnly(target.fs, words[i:]); err != nil && !strings.Contains(err.Error(), `invalid value "$`) {
				t.Errorf("example of kith %s: %s: %v", name, line, err)
			}
		}
	}
}

// parseOnly parses args with fs as parseAnyArgs does (flags after
// arguments too), without loading --config.
func parseOnly(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return nil
		}
		args = rest[1:]
	}
}

// shellWords splits an example line into words the way a shell would for
// these simple lines: quotes group, and the line ends at a pipe or a
// redirection.
func shellWords(line string) []string {
	if strings.HasPrefix(strings.TrimSpace(line), "#") {
		return nil
	}
	var words []string
	var cur strings.Builder
	inWord := false
	quote := rune(0)
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case (r == '|' || r == '>' || r == '<') && !inWord:
			return words
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestCompletionBash completes words in a real bash with the script kith
// completion bash prints: commands, subcommands and flags of the command
// typed so far, skipping flag values.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	r := runKith(t, "completion", "bash")
	if r.code != 0 {
		t.Fatalf("kith completion bash: %d %s", r.code, r.stderr)
	}
	script := filepath.Join(t.TempDir(), "kith.bash")
	if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string // the last one is being completed
		want  []string
	}{
		{[]string{"kith", "en"}, []string{"entry"}},
		{[]string{"kith", "entry", ""}, []string{"create", "list", "show", "update", "delete", "revoke", "quarantine", "release", "export"}},
		{[]string{"kith", "entry", "create", "--sp"}, []string{"--spiffe-id"}},
		{[]string{"kith", "entry", "list", "--spiffe-id", "spiffe://a/b", "-o", "json", "--st"}, []string{"--status"}},
		{[]string{"kith", "audit", "verify", "--key-f"}, []string{"--key-file"}},
		{[]string{"kith", "workload", "fetch", ""}, []string{"x509", "jwt", "bundle"}},
		{[]string{"kith", "comp"}, []string{"completion"}},
		{[]string{"kith", "entry", "create", "--spiffe-id", "entry", "--sel"}, []string{"--selector"}},
	} {
		cmd := exec.Command(bash, "--noprofile", "--norc", "-c",
			`source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kith; printf '%s\n' "${COMPREPLY[@]}"`,
			"bash", script)
		cmd.Args = append(cmd.Args, tc.words...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.words, err, out)
		}
		got := strings.Fields(string(out))
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("completing %q: got %q, want %q among them", tc.words, got, w)
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("completing %q: got %q, want %q", tc.words, got, tc.want)
		}
	}
}

// TestCompletionScripts: each shell's script names every command path and
// flag, and parses in its shell where that shell is installed.
func TestCompletionScripts(t *testing.T) {
	root, err := commandTree(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			r := runKith(t, "completion", shell)
			if r.code != 0 {
				t.Fatalf("kith completion %s: %d %s", shell, r.code, r.stderr)
			}
			for _, want := range []string{"entry create", "workload fetch jwt", "spiffe-id", "key-file"} {
				if shell != "fish" && !strings.Contains(r.stdout, want) {
					t.Errorf("script lacks %q", want)
				}
				if shell == "fish" && !strings.Contains(r.stdout, strings.Fields(want)[len(strings.Fields(want))-1]) {
					t.Errorf("script lacks %q", want)
				}
			}
			bin, err := exec.LookPath(shell)
			if err != nil {
				t.Skipf("no %s to parse the script with", shell)
			}
			script := filepath.Join(t.TempDir(), "kith."+shell)
			if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "-n", script).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", shell, err, out)
			}
		})
	}
	if r := runKith(t, "completion", "tcsh"); r.code != 2 || !strings.Contains(r.stderr, "want bash, zsh or fish") {
		t.Errorf("kith completion tcsh: %d %s", r.code, r.stderr)
	}
	_ = root
}
