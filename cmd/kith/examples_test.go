package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kith-dev/kith/internal/entryfile"
)

// examplesDir is the repository's examples/, from this package's folder.
const examplesDir = "../../examples"

// TestExamplesFolder keeps examples/ working: configurations pass kith
// config check for the command they are for, policies are in canonical
// form and pass their cases with every rule reached, the entry file
// reads, and every kith command of the walk-through exists with the
// flags it is given.
func TestExamplesFolder(t *testing.T) {
	for _, tc := range []struct{ file, command string }{
		{"server.yaml", "server"},
		{"agent-node1.yaml", "agent"},
		{"agent-node2.yaml", "agent"},
		{"proxy-orders.yaml", "proxy"},
		{"proxy-billing.yaml", "proxy"},
	} {
		r := runKith(t, "config", "check", filepath.Join(examplesDir, tc.file))
		if r.code != 0 || !strings.Contains(r.stdout, "a valid configuration of kith "+tc.command) {
			t.Errorf("kith config check %s: exit %d\n%s%s", tc.file, r.code, r.stdout, r.stderr)
		}
	}
	policies, cases := filepath.Join(examplesDir, "policies", "orders.yaml"), filepath.Join(examplesDir, "policies", "orders.cases.yaml")
	if r := runKith(t, "policy", "fmt", "--check", policies); r.code != 0 {
		t.Errorf("kith policy fmt --check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runKith(t, "policy", "lint", "-f", policies); r.code != 0 {
		t.Errorf("kith policy lint: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runKith(t, "policy", "test", "-f", policies, "-c", cases, "--coverage")
	if r.code != 0 || !strings.Contains(r.stdout, "(100.0%)") {
		t.Errorf("kith policy test --coverage: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(filepath.Join(examplesDir, "entries.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := entryfile.Parse("entries.yaml", b); err != nil {
		t.Error(err)
	}
	checkWalkthrough(t, filepath.Join(examplesDir, "walkthrough.sh"))
}

// checkWalkthrough parses every kith command of the script against the
// command's flags, as TestExamples does for the help's examples.
func checkWalkthrough(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]leaf{}
	for _, l := range leaves(t) {
		byPath[strings.Join(l.path, " ")] = l
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), "&"))
		if _, after, ok := strings.Cut(line, "$(kith "); ok { // T1=$(kith … | sed …)
			line = "kith " + after
		}
		words := shellWords(line)
		if len(words) < 2 || words[0] != "kith" || strings.HasPrefix(words[1], "()") {
			continue
		}
		i := 1
		for i < len(words) {
			if _, ok := byPath[strings.Join(words[1:i+1], " ")]; !ok {
				break
			}
			i++
		}
		target, ok := byPath[strings.Join(words[1:i], " ")]
		if !ok || target.fs == nil {
			t.Errorf("walkthrough.sh: no such command: %s", line)
			continue
		}
		if err := parseOnly(target.fs, words[i:]); err != nil && !strings.Contains(err.Error(), `invalid value "$`) {
			t.Errorf("walkthrough.sh: %s: %v", line, err)
		}
		n++
	}
	if n < 15 {
		t.Errorf("walkthrough.sh: only %d kith commands found", n)
	}
}
