package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRecord(t *testing.T) {
	s := mustCompile(t, richPolicies)
	in := call(partner, "POST", "/orders/1")
	in.Request.Headers = map[string]string{"Authorization": "Bearer secret", "x-tenant": "acme", "cookie": "c"}
	in.Trust.Signals = []string{"caep.x"}
	d := s.Decide(in)
	id := NewDecisionID()
	if len(id) != 32 || id == NewDecisionID() {
		t.Fatalf("decision IDs %q are not 128-bit random hex", id)
	}
	r := NewRecord(id, t0, in, &d)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"decision_id", "revision", "input", "result", "timestamp", "path"} {
		if _, ok := m[k]; !ok {
			t.Errorf("record lacks the OPA field %q: %s", k, b)
		}
	}
	if strings.Contains(string(b), "secret") || strings.Contains(string(b), `"cookie"`) {
		t.Errorf("record keeps credentials: %s", b)
	}
	if !strings.Contains(string(b), "x-tenant") || in.Request.Headers["Authorization"] == "" {
		t.Errorf("record lost a plain header, or the input was changed: %s", b)
	}
}

func TestDiff(t *testing.T) {
	cur := parseDocs(t, "name: a\ntarget: spiffe://example.org/a\nrules:\n  - action: allow\n    to: {methods: [GET]}\n---\nname: b\ntarget: spiffe://example.org/b\n")
	next := parseDocs(t, "name: a\ntarget: spiffe://example.org/a\nrules:\n  - action: allow\n    to: {methods: [POST]}\n---\nname: b\ntarget: spiffe://example.org/b\n---\nname: c\ntarget: spiffe://example.org/c\n")
	got := Diff(cur, next)
	if len(got) != 3 || got[0].Kind != ChangeUpdated || got[1].Kind != ChangeUnchanged || got[2].Kind != ChangeCreated {
		t.Fatalf("Diff = %+v", got)
	}
	lines := strings.Split(strings.TrimSuffix(got[0].Diff, "\n"), "\n")
	var ops []string
	for _, l := range lines {
		ops = append(ops, l[:1]+strings.TrimSpace(l[1:]))
	}
	if want := []string{` "methods": [`, `-"GET"`, `+"POST"`, " ]"}; strings.Join(ops, "|") != strings.Join(want, "|") {
		t.Errorf("diff =\n%s\nwant the lines %q", got[0].Diff, want)
	}
}

// TestDiffYAML: the same changes, shown in the YAML people write.
func TestDiffYAML(t *testing.T) {
	cur := parseDocs(t, "name: a\ntarget: spiffe://example.org/a\nrules:\n  - action: allow\n    to: {methods: [GET]}\n")
	next := parseDocs(t, "name: a\ntarget: spiffe://example.org/a\nrules:\n  - action: allow\n    to: {methods: [POST]}\n---\nname: b\ntarget: spiffe://example.org/b\n")
	got := DiffYAML(cur, next)
	if len(got) != 2 || got[0].Kind != ChangeUpdated || got[1].Kind != ChangeCreated {
		t.Fatalf("DiffYAML = %+v", got)
	}
	var ops []string
	for _, l := range strings.Split(strings.TrimSuffix(got[0].Diff, "\n"), "\n") {
		ops = append(ops, l[:1]+strings.TrimSpace(l[1:]))
	}
	if want := []string{" methods:", "-- GET", "+- POST", " action: allow"}; strings.Join(ops, "|") != strings.Join(want, "|") {
		t.Errorf("diff =\n%s\nwant the lines %q", got[0].Diff, want)
	}
	if again := DiffYAML(next, next); again[0].Kind != ChangeUnchanged {
		t.Errorf("DiffYAML of the same documents = %+v", again)
	}
}
