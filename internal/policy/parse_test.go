package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseDocuments(t *testing.T) {
	src := `# two policies in one file
name: orders
description: who may touch orders
target: spiffe://example.org/orders
mode: dry_run
rules:
  - name: billing reads
    from:
      spiffe_ids: [spiffe://example.org/billing]
      trust_domains: example.org
      client_ids: [billing-client]
      scopes: [orders.read]
    to:
      methods: [GET, HEAD]
      hosts: ["*.internal"]
      paths:
        - /orders/{id}
    when: trust.score >= 600
    action: allow
  - action: step_up
    step_up: {acr: [urn:mfa, urn:hwk], max_age: 5m}
  - action: rate_limit
    rate_limit: {rps: 2.5, burst: 5}
  - action: restrict
    scopes: orders.read
---
---
name: payments
target: spiffe://example.org/payments/*
rules: []
`
	docs, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Document{
		{
			Name: "orders", Description: "who may touch orders", Target: "spiffe://example.org/orders", Mode: ModeDryRun,
			Rules: []Rule{
				{
					Name: "billing reads",
					From: From{SPIFFEIDs: []string{billing}, TrustDomains: []string{"example.org"}, ClientIDs: []string{"billing-client"}, Scopes: []string{"orders.read"}},
					To:   To{Methods: []string{"GET", "HEAD"}, Hosts: []string{"*.internal"}, Paths: []string{"/orders/{id}"}},
					When: "trust.score >= 600", Action: ActionAllow,
				},
				{Action: ActionStepUp, StepUp: &StepUp{ACR: []string{"urn:mfa", "urn:hwk"}, MaxAge: 300}},
				{Action: ActionRateLimit, RateLimit: &RateLimit{RPS: 2.5, Burst: 5}},
				{Action: ActionRestrict, Scopes: []string{"orders.read"}},
			},
		},
		{Name: "payments", Target: "spiffe://example.org/payments/*"},
	}
	if d := cmp.Diff(want, docs, cmpopts.IgnoreUnexported(Document{}), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Parse (-want +got):\n%s", d)
	}
	if got := docs[0].Position("rules[0].when"); got != (Position{File: "p.yaml", Line: 18, Column: 11}) {
		t.Errorf("position of rules[0].when = %v, want p.yaml:18:11", got)
	}
	if got := docs[1].Position("mode"); got != (Position{File: "p.yaml", Line: 28, Column: 1}) {
		t.Errorf("position of a field it lacks = %v, want the document's, p.yaml:28:1", got)
	}
}

// TestParseErrors shows that every problem names the file, line, column
// and field.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // each error's text
	}{
		{"unknown field", "name: a\ntarget: spiffe://x.org/a\nrulez: []\n",
			[]string{`f.yaml:3:1: policy "a": rulez: unknown field (want one of name, description, target, mode, rules)`}},
		{"unknown rule field", "name: a\nrules:\n  - action: allow\n    form: {}\n",
			[]string{`f.yaml:4:5: policy "a": rules[0].form: unknown field (want one of name, from, to, when, action, step_up, scopes, rate_limit)`}},
		{"wrong kind", "name: a\nrules:\n  - to: {methods: {GET: 1}}\n",
			[]string{`f.yaml:3:19: policy "a": rules[0].to.methods: want a list, got a mapping`}},
		{"unknown action", "name: a\nrules:\n  - action: permit\n",
			[]string{`f.yaml:3:13: policy "a": rules[0].action: "permit": unknown action (want allow, audit, rate_limit, restrict, step_up, deny or quarantine)`}},
		{"bool for a string", "name: a\ntarget: true\n",
			[]string{`f.yaml:2:9: policy "a": target: want a string, got a boolean (true) (quote it if it is meant as text)`}},
		{"duplicate key", "name: a\nname: b\n",
			[]string{`f.yaml:2:1: policy "a": name: duplicate key`}},
		{"alias", "name: a\nrules: &r []\nx: *r\n",
			[]string{`f.yaml:3:4: policy "a": x: aliases are not supported`}},
		{"bad rate", "name: a\nrules:\n  - rate_limit: {rps: fast}\n",
			[]string{`f.yaml:3:23: policy "a": rules[0].rate_limit.rps: want a number, got "fast"`}},
		{"bad max_age", "name: a\nrules:\n  - step_up: {max_age: 1.5s}\n",
			[]string{`f.yaml:3:24: policy "a": rules[0].step_up.max_age: want whole seconds or a duration such as 5m, got "1.5s"`}},
		{"not a mapping", "- a\n- b\n", []string{`f.yaml:1:1: want a mapping, got a list`}},
		{"yaml syntax", "name: a\n  target: [\n", []string{`f.yaml:2:1: mapping values are not allowed in this context`}},
		{"errors in two documents", "name: a\nmode: 3\nfoo: 1\n---\nname: b\nbar: 2\n", []string{
			`f.yaml:3:1: policy "a": foo: unknown field (want one of name, description, target, mode, rules)`,
			`f.yaml:6:1: policy "b": bar: unknown field (want one of name, description, target, mode, rules)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.src))
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse error = %v, want an ErrorList", err)
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

func TestParseLimits(t *testing.T) {
	big := strings.Repeat("#", MaxFileSize+1)
	if _, err := Parse("big.yaml", []byte(big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Parse of a file over MaxFileSize: %v", err)
	}
	docs, err := Parse("empty.yaml", []byte("---\n# nothing\n---\n"))
	if err != nil || len(docs) != 0 {
		t.Errorf("Parse of empty documents = %v, %v; want none", docs, err)
	}
}
