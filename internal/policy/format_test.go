package policy

import (
	"bytes"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	in := `# orders policy
target: "spiffe://a.test/orders"
name: orders
rules:
  - action: allow   # reads
    name: billing-reads
    to:
      paths: ["/orders/{id}"]
      methods:
        - GET
    from: {spiffe_ids: [spiffe://a.test/billing]}
  - to: {methods: [DELETE, 'PUT']}
    step_up: {max_age: 5m, acr: [urn:mfa]}
    action: step_up
---
name: x
target: spiffe://a.test/x
rules: []
`
	want := `# orders policy
name: orders
target: spiffe://a.test/orders
rules:
  - name: billing-reads
    from:
      spiffe_ids:
        - spiffe://a.test/billing
    to:
      methods: [GET]
      paths:
        - /orders/{id}
    action: allow # reads
  - to:
      methods: [DELETE, PUT]
    action: step_up
    step_up:
      acr:
        - urn:mfa
      max_age: 5m
---
name: x
target: spiffe://a.test/x
rules: []
`
	out, err := Format("p.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != want {
		t.Errorf("Format:\n%s\nwant:\n%s", out, want)
	}
	if again, err := Format("p.yaml", out); err != nil || !bytes.Equal(again, out) {
		t.Errorf("Format is not idempotent: %v\n%s", err, again)
	}
	if _, err := Format("bad.yaml", []byte("name: x\ntarget: spiffe://a.test/x\nrules:\n  - actoin: allow\n")); err == nil || !strings.Contains(err.Error(), "bad.yaml:4") {
		t.Errorf("invalid file: %v", err)
	}
}

// FuzzFormat: Format of a valid file means the same policies (Format
// checks it) and is a fixed point.
func FuzzFormat(f *testing.F) {
	f.Add([]byte("name: a\ntarget: spiffe://a.test/a\nrules:\n  - action: allow\n    when: 'trust.score > 3'\n"))
	f.Add([]byte("target: spiffe://a.test/a\nname: \"a\"\nmode: dry_run\nrules:\n- {action: deny, to: {methods: [GET], paths: ['/x/{id}']}}\n"))
	f.Add([]byte("# c\nname: a # n\ntarget: spiffe://a.test/*\nrules:\n  # r\n  - name: '123'\n    action: rate_limit\n    rate_limit: {rps: 1.5, burst: 2}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Format("fuzz.yaml", data)
		if err != nil {
			if strings.Contains(err.Error(), "a bug of kith policy fmt") {
				t.Fatalf("%v\ninput:\n%s", err, data)
			}
			return
		}
		again, err := Format("fuzz.yaml", out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not a fixed point: %v\nfirst:\n%s\nsecond:\n%s", err, out, again)
		}
	})
}

func TestCoverage(t *testing.T) {
	docs, err := Parse("p.yaml", []byte(`name: orders
target: spiffe://a.test/orders
rules:
  - name: reads
    to: {methods: [GET]}
    action: allow
  - name: deletes
    to: {methods: [DELETE]}
    action: deny
  - name: never
    when: trust.score < 0
    action: deny
`))
	if err != nil {
		t.Fatal(err)
	}
	set, err := Compile(docs, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases, err := ParseTests("c.yaml", []byte(`cases:
  - name: read
    input: {target: spiffe://a.test/orders, caller: {spiffe_id: spiffe://a.test/b}, request: {method: GET, path: /}}
    expect: allow
  - name: delete
    input: {target: spiffe://a.test/orders, caller: {spiffe_id: spiffe://a.test/b}, request: {method: DELETE, path: /}}
    expect: deny
`))
	if err != nil {
		t.Fatal(err)
	}
	cov := CoverageOf(docs, set, cases)
	if cov.Covered != 2 || cov.Total != 3 || len(cov.Uncovered) != 1 || cov.Uncovered[0].Rule.Name != "never" {
		t.Fatalf("coverage = %+v", cov)
	}
	var buf bytes.Buffer
	cov.WriteText(&buf)
	for _, want := range []string{"Coverage: 2/3 rules reached by a case (66.7%)", "p.yaml:10:5: orders#2 (never): no case reached this rule"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}
