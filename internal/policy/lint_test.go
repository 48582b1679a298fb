package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLint(t *testing.T) {
	src := `name: orders
target: spiffe://example.org/orders
rules:
  - name: lockdown
    from: {trust_domains: [partner.example]}
    action: deny
  - name: partner-reads
    from: {spiffe_ids: [spiffe://partner.example/app]}
    to: {methods: [GET]}
    action: allow
  - name: impossible
    from: {spiffe_ids: [spiffe://example.org/a], trust_domains: [partner.example]}
    action: allow
  - name: reads
    to: {paths: ["/orders/*"]}
    action: allow
  - name: one-read
    to: {methods: [GET], paths: ["/orders/{id}"]}
    action: allow
  - name: never
    when: "1 > 2"
    action: allow
  - name: always
    when: "true"
    action: audit
  - name: conditional
    when: trust.score > 3
    action: deny
---
name: empty
target: spiffe://example.org/empty
---
name: all
target: spiffe://example.org/*
rules:
  - name: no-deletes
    to: {methods: [DELETE]}
    action: deny
---
name: deletes
target: spiffe://example.org/orders
rules:
  - name: delete-one
    to: {methods: [DELETE], paths: ["/orders/{id}"]}
    action: allow
`
	docs, err := Parse("lint.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Lint(docs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.String())
	}
	want := []string{
		`lint.yaml:43:5: deletes#0: shadowed: rule all#0 (deny) matches every call this rule matches and takes precedence, so this rule never decides`,
		`lint.yaml:30:1: empty: deny-all: the policy has no rules, so every call to spiffe://example.org/empty is denied`,
		`lint.yaml:7:5: orders#1: shadowed: rule orders#0 (deny) matches every call this rule matches and takes precedence, so this rule never decides`,
		`lint.yaml:11:5: orders#2: unreachable: no SPIFFE ID of from.spiffe_ids is in from.trust_domains [partner.example]`,
		`lint.yaml:17:5: orders#4: redundant: rule orders#3 already matches every call this rule matches, with the same action`,
		`lint.yaml:20:5: orders#5: unreachable: the condition does not depend on the call and is always false`,
		`lint.yaml:23:5: orders#6: always-true: the condition does not depend on the call and is always true; remove it`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	var b strings.Builder
	if err := WriteFindings(&b, fs); err != nil || !strings.HasSuffix(b.String(), "7 problem(s) found.\n") {
		t.Errorf("WriteFindings = %q, %v", b.String(), err)
	}
	clean, err := Lint(docs[3:])
	if err != nil || len(clean) != 0 {
		t.Errorf("Lint of a clean policy = %v, %v", clean, err)
	}
	if _, err := Lint([]Document{{Name: "x"}}); err == nil {
		t.Error("Lint of an invalid policy: no error")
	}
}
