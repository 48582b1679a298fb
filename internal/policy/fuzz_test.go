package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParse feeds arbitrary files to the YAML loader. Whatever Parse
// accepts and Compile compiles must survive the JSON round trip the store
// and the sync stream put it through, compile again to the same
// documents, and decide without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(richPolicies))
	f.Add([]byte(policyOf(allowBilling)))
	f.Add([]byte("name: a\ntarget: spiffe://example.org/a\nrules:\n  - action: step_up\n    step_up: {acr: x, max_age: 5m}\n"))
	f.Add([]byte("name: a\nrules: &r []\nx: *r\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("name: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		s, err := Compile(docs, CompileOptions{})
		if err != nil {
			return
		}
		b, err := MarshalDocuments(s.Documents())
		if err != nil {
			t.Fatalf("MarshalDocuments of a compiled set: %v", err)
		}
		back, err := UnmarshalDocuments(b)
		if err != nil {
			t.Fatalf("UnmarshalDocuments(%s): %v", b, err)
		}
		s2, err := Compile(back, CompileOptions{})
		if err != nil {
			t.Fatalf("a compiled set does not compile after the round trip: %v\n%s", err, b)
		}
		if d := cmp.Diff(s.Documents(), s2.Documents(), ignorePositions, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("round trip changed the documents (-before +after):\n%s", d)
		}
		for _, d := range s.Documents() {
			in := call(billing, "GET", "/orders/1")
			in.Target = d.Target
			s.Decide(in)
		}
	})
}

// FuzzCompileCondition feeds arbitrary expressions to the CEL compilation
// path. Any condition that compiles must evaluate, within its cost limit,
// to a bool or a failure, never a panic.
func FuzzCompileCondition(f *testing.F) {
	for _, s := range []string{
		"trust.score >= 600",
		"'a' in token.scopes && token.claims.tenant == 'acme'",
		"trust.signals.exists(s, s.startsWith('anomaly.'))",
		"request.headers['x'] == 'y' || caller.client_id.matches('^c.*$')",
		"token.claims[?'x'].orValue(1) == 1",
		"[1,2,3].map(x, [1,2,3].map(y, x * y)).size() > 0",
		"request.path.split('/').size() > 2",
		"trust.score +",
	} {
		f.Add(s)
	}
	env, err := newCELEnv()
	if err != nil {
		f.Fatal(err)
	}
	ins := []*Input{call(billing, "GET", "/orders/1"), {}}
	ins[0].Token.Claims = map[string]any{"tenant": "acme", "n": 3.0, "l": []any{"a"}}
	ins[0].Trust.Signals = []string{"anomaly.rate"}
	f.Fuzz(func(t *testing.T, src string) {
		cond, issues := compileCondition(env, src, 1000)
		if cond == nil {
			if len(issues) == 0 {
				t.Fatal("no condition and no issue")
			}
			return
		}
		for _, in := range ins {
			_, _ = cond.eval(in)
		}
	})
}
