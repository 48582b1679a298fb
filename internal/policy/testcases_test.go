package policy

import (
	"strings"
	"testing"
)

func TestRunTests(t *testing.T) {
	s := mustCompile(t, richPolicies)
	cases, err := ParseTests("cases.yaml", []byte(`
cases:
  - name: billing reads an order
    input:
      target: spiffe://example.org/orders
      caller: {spiffe_id: spiffe://example.org/billing}
      token: {present: true, scopes: [orders.read]}
      request: {method: GET, path: /orders/42}
      trust: {score: 800}
    expect: restrict
    rule: orders-extra#2
  - name: writes need a step-up
    input:
      target: spiffe://example.org/orders
      caller: {spiffe_id: spiffe://example.org/billing}
      request: {method: POST, path: /orders/42}
      trust: {score: 800}
    expect: step_up
    dry_run: deny
  - name: tenant claim
    input:
      target: spiffe://example.org/orders
      caller: {spiffe_id: spiffe://example.org/billing}
      token: {present: true, claims: {tenant: acme, level: 2}}
      request: {method: GET, path: /tenants/acme}
      trust: {score: 800}
      time: 2026-01-01T00:00:00Z
    expect: audit
  - name: wrong expectation
    input:
      target: spiffe://example.org/orders
      caller: {spiffe_id: spiffe://example.org/stranger}
      request: {method: GET, path: /x}
      trust: {score: 800}
    expect: allow
    rule: orders#0
`))
	if err != nil {
		t.Fatal(err)
	}
	rep := RunTests(s, cases)
	if rep.Passed != 3 || rep.Failed != 1 {
		var b strings.Builder
		rep.WriteText(&b, true)
		t.Fatalf("passed %d, failed %d, want 3 and 1:\n%s", rep.Passed, rep.Failed, b.String())
	}
	var b strings.Builder
	if err := rep.WriteText(&b, false); err != nil {
		t.Fatal(err)
	}
	want := `FAIL: wrong expectation: got audit, want allow; decided by "orders-extra#0", want "orders#0"`
	if !strings.Contains(b.String(), want) || !strings.Contains(b.String(), "PASS: 3/4\nFAIL: 1/4\n") || strings.Contains(b.String(), "PASS: billing") {
		t.Errorf("report:\n%s\nwant %q and the totals", b.String(), want)
	}
}

func TestParseTestsErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"no cases", "foo: []", `unknown field "foo"`},
		{"empty", "cases: []", "no cases"},
		{"no expectation", "cases:\n  - name: x\n    input: {}\n", "case 0 (x): expect is required"},
		{"bad action", "cases:\n  - expect: maybe\n", "unknown action"},
		{"unknown input field", "cases:\n  - expect: allow\n    input: {caler: {}}\n", `unknown field "caler"`},
		{"yaml", "cases: [", "cases.yaml: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTests("cases.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseTests: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseInput(t *testing.T) {
	in, err := ParseInput([]byte(`{"target":"spiffe://example.org/orders","caller":{"spiffe_id":"spiffe://example.org/billing"},"request":{"method":"GET","path":"/"}}`))
	if err != nil || in.Caller.SPIFFEID != billing || in.Request.Method != "GET" {
		t.Errorf("ParseInput = %+v, %v", in, err)
	}
	if _, err := ParseInput([]byte(`{"target":1}`)); err == nil {
		t.Error("ParseInput accepted a number for target")
	}
}
