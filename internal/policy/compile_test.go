package policy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCompileErrors shows that compile errors point at the file, line,
// column and field at fault, conditions included.
func TestCompileErrors(t *testing.T) {
	const head = "name: p\ntarget: spiffe://example.org/orders\nrules:\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"missing target and action", "name: p\nrules:\n  - to: {methods: [GET]}\n", []string{
			`f.yaml:1:1: policy "p": target: required: the SPIFFE ID (or pattern) of the protected service`,
			`f.yaml:3:5: policy "p": rules[0].action: required: allow, audit, rate_limit, restrict, step_up, deny or quarantine`,
		}},
		{"bad name", "name: a b\ntarget: spiffe://example.org/x\n", []string{
			`f.yaml:1:7: policy "a b": name: "a b" holds ' '; use letters, digits, '.', '-' and '_'`,
		}},
		{"bad mode", "name: p\ntarget: spiffe://example.org/x\nmode: audit\n", []string{
			`f.yaml:3:7: policy "p": mode: "audit" is not a mode (want enforce or dry_run)`,
		}},
		{"bad selectors", head + "  - from:\n      spiffe_ids: [spiffe://example.org/a/**/b]\n      trust_domains: [Example.org]\n    to:\n      methods: [get]\n      paths: [orders]\n    action: allow\n", []string{
			`f.yaml:5:20: policy "p": rules[0].from.spiffe_ids[0]: "spiffe://example.org/a/**/b": ** may only be the whole last segment`,
			`f.yaml:6:23: policy "p": rules[0].from.trust_domains[0]: "Example.org" is not a trust domain name`,
			`f.yaml:8:17: policy "p": rules[0].to.methods[0]: "get" is not an HTTP method (upper case, such as GET) or *`,
			`f.yaml:9:15: policy "p": rules[0].to.paths[0]: "orders" does not start with /`,
		}},
		{"action parameters", head + "  - action: allow\n    scopes: [a]\n  - action: step_up\n  - action: rate_limit\n    rate_limit: {rps: 0}\n", []string{
			`f.yaml:5:13: policy "p": rules[0].scopes: scopes (the scopes kept) are required with action restrict, and only there`,
			`f.yaml:6:5: policy "p": rules[1].step_up: step_up is required with action step_up, and only there`,
			`f.yaml:8:23: policy "p": rules[2].rate_limit.rps: must be a number above zero`,
		}},
		{"condition: unknown variable, plain style", head + "  - action: allow\n    when: trust.score > 5 && trusts.level == 'x'\n", []string{
			`f.yaml:5:30: policy "p": rules[0].when: undeclared reference to 'trusts' (did you mean 'trust'?)`,
		}},
		{"condition: unknown field, quoted", head + "  - action: allow\n    when: \"trust.scroe > 5\"\n", []string{
			`f.yaml:5:17: policy "p": rules[0].when: undefined field 'scroe'`,
		}},
		{"condition: block style, second line", head + "  - action: allow\n    when: |\n      trust.score > 5 &&\n        token.acr == 3\n", []string{
			`f.yaml:7: policy "p": rules[0].when: found no matching overload for '_==_' applied to '(string, int)'`,
		}},
		{"condition: not a bool", head + "  - action: allow\n    when: trust.score + 1\n", []string{
			`f.yaml:5:11: policy "p": rules[0].when: condition must be a bool, not int`,
		}},
		{"condition: syntax", head + "  - action: allow\n    when: trust.score >\n", []string{
			`f.yaml:5:24: policy "p": rules[0].when: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}`,
		}},
		{"duplicate names", "name: p\ntarget: spiffe://example.org/a\n---\nname: p\ntarget: spiffe://example.org/b\n", []string{
			`f.yaml:4:7: policy "p": name: another policy has this name; names must be unique`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Parse("f.yaml", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = Compile(docs, CompileOptions{})
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Compile error = %v, want an ErrorList", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
}

// TestCompileFromJSON shows that documents read back from the store
// compile, and that their errors name the policy and field.
func TestCompileFromJSON(t *testing.T) {
	docs, err := UnmarshalDocuments([]byte(`[{"name":"p","target":"spiffe://example.org/a","rules":[{"action":"deny","when":"nope"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(docs, CompileOptions{})
	if err == nil || err.Error() != `policy "p": rules[0].when: undeclared reference to 'nope'` {
		t.Errorf("Compile = %v", err)
	}
	if _, err := UnmarshalDocuments([]byte(`[{"name":"p","rulez":[]}]`)); err == nil {
		t.Error("UnmarshalDocuments accepted an unknown field")
	}
	// MarshalDocuments and UnmarshalDocuments round-trip.
	good := mustCompile(t, "name: p\ntarget: spiffe://example.org/a\nrules:\n  - action: step_up\n    step_up: {acr: x, max_age: 60}\n")
	b, err := MarshalDocuments(good.Documents())
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalDocuments(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(good.Documents(), back, cmp.AllowUnexported(), ignorePositions); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}
