package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/kith-dev/kith/internal/policy"
)

// The rule set: n services, each protected by four rules — its client may
// GET /orders/{id} (with, in the "cel" variant, a condition over the trust
// score and the token's scopes), writes need a step-up to urn:mfa, a
// pattern of legacy callers is denied, and a partner trust domain is
// audited. Every decision is for the allow rule of the middle service.

// kithPolicies is the rule set in Kith's YAML.
func kithPolicies(n int, cond bool) string {
	var b strings.Builder
	when := ""
	if cond {
		when = "    when: trust.score >= 600 && 'orders.read' in token.scopes\n"
	}
	for i := range n {
		fmt.Fprintf(&b, `---
name: svc-%d
target: spiffe://example.org/svc-%d
rules:
  - from: {spiffe_ids: [spiffe://example.org/client-%d]}
    to: {methods: [GET], paths: ["/orders/{id}"]}
%s    action: allow
  - to: {methods: [POST, DELETE]}
    action: step_up
    step_up: {acr: [urn:mfa]}
  - from: {spiffe_ids: ["spiffe://example.org/ns/*/sa/legacy"]}
    action: deny
  - from: {trust_domains: [partner.example]}
    action: audit
`, i, i, i, when)
	}
	return b.String()
}

// regoPolicies is the same rule set in Rego, with Kith's combining order
// (quarantine and deny, then step_up, then audit and allow; deny by
// default on a protected target, allow on others). Each rule starts with
// an equality on input.target, which OPA's rule index uses.
func regoPolicies(n int, cond bool) string {
	var b strings.Builder
	b.WriteString(`package kith.authz

decision := "deny" if {
	deny
} else := "step_up" if {
	step_up
} else := "audit" if {
	audit
} else := "allow" if {
	allow
} else := "deny" if {
	protected[input.target]
} else := "allow"

mfa if input.token.acr == "urn:mfa"

template_id(path) if {
	parts := split(path, "/")
	count(parts) == 3
	parts[0] == ""
	parts[1] == "orders"
	parts[2] != ""
}

`)
	when := ""
	if cond {
		when = "\tinput.trust.score >= 600\n\t\"orders.read\" in input.token.scopes\n"
	}
	targets := make([]string, n)
	for i := range n {
		t := fmt.Sprintf("spiffe://example.org/svc-%d", i)
		targets[i] = fmt.Sprintf("%q", t)
		fmt.Fprintf(&b, `allow if {
	input.target == %[1]q
	input.caller.spiffe_id == "spiffe://example.org/client-%[2]d"
	input.request.method == "GET"
	template_id(input.request.path)
%[3]s}

step_up if {
	input.target == %[1]q
	input.request.method in {"POST", "DELETE"}
	not mfa
}

deny if {
	input.target == %[1]q
	glob.match("spiffe://example.org/ns/*/sa/legacy", ["/"], input.caller.spiffe_id)
}

audit if {
	input.target == %[1]q
	startswith(input.caller.spiffe_id, "spiffe://partner.example/")
}

`, t, i, when)
	}
	fmt.Fprintf(&b, "protected := {%s}\n", strings.Join(targets, ", "))
	return b.String()
}

// kithInput is the decision's input for Kith.
func kithInput(n int) *policy.Input {
	i := n / 2
	return &policy.Input{
		Target:  fmt.Sprintf("spiffe://example.org/svc-%d", i),
		Caller:  policy.Caller{SPIFFEID: fmt.Sprintf("spiffe://example.org/client-%d", i)},
		Token:   policy.Token{Present: true, Scopes: []string{"orders.read"}},
		Request: policy.Request{Method: "GET", Host: "svc", Path: "/orders/42"},
		Trust:   policy.Trust{Score: 800},
		Time:    time.Unix(1e9, 0),
	}
}

// opaInput is the same input for OPA, converted once to an AST value so
// that the benchmark times evaluation, not conversion.
func opaInput(tb testing.TB, n int) ast.Value {
	in := kithInput(n)
	v, err := ast.InterfaceToValue(map[string]any{
		"target":  in.Target,
		"caller":  map[string]any{"spiffe_id": in.Caller.SPIFFEID},
		"token":   map[string]any{"present": true, "scopes": []any{"orders.read"}},
		"request": map[string]any{"method": in.Request.Method, "host": in.Request.Host, "path": in.Request.Path},
		"trust":   map[string]any{"score": in.Trust.Score},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func compileKith(tb testing.TB, n int, cond bool) *policy.Set {
	tb.Helper()
	docs, err := policy.Parse("bench.yaml", []byte(kithPolicies(n, cond)))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := policy.Compile(docs, policy.CompileOptions{Revision: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func prepareOPA(tb testing.TB, n int, cond bool) rego.PreparedEvalQuery {
	tb.Helper()
	q, err := rego.New(
		rego.Query("data.kith.authz.decision"),
		rego.Module("kith.rego", regoPolicies(n, cond)),
	).PrepareForEval(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

func evalOPA(tb testing.TB, q rego.PreparedEvalQuery, in ast.Value) string {
	rs, err := q.Eval(context.Background(), rego.EvalParsedInput(in))
	if err != nil {
		tb.Fatal(err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		tb.Fatalf("OPA result %v", rs)
	}
	s, _ := rs[0].Expressions[0].Value.(string)
	return s
}

// TestKithAndOPAAgree shows that the two rule sets decide alike, so that
// the benchmark compares like with like.
func TestKithAndOPAAgree(t *testing.T) {
	const n = 10
	for _, cond := range []bool{false, true} {
		s := compileKith(t, n, cond)
		q := prepareOPA(t, n, cond)
		for _, c := range []struct {
			caller, method, path, target string
			score                        int
		}{
			{"spiffe://example.org/client-5", "GET", "/orders/42", "svc-5", 800},
			{"spiffe://example.org/client-5", "GET", "/orders/42", "svc-5", 100},
			{"spiffe://example.org/client-5", "GET", "/orders/42/x", "svc-5", 800},
			{"spiffe://example.org/client-4", "GET", "/orders/42", "svc-5", 800},
			{"spiffe://example.org/client-5", "DELETE", "/orders/42", "svc-5", 800},
			{"spiffe://example.org/ns/a/sa/legacy", "GET", "/orders/42", "svc-5", 800},
			{"spiffe://partner.example/app", "GET", "/orders/42", "svc-5", 800},
			{"spiffe://example.org/client-5", "GET", "/orders/42", "other", 800},
		} {
			in := kithInput(n)
			in.Caller.SPIFFEID, in.Request.Method, in.Request.Path = c.caller, c.method, c.path
			in.Target, in.Trust.Score = "spiffe://example.org/"+c.target, c.score
			kith := s.Decide(in).Action.String()
			v, err := ast.InterfaceToValue(map[string]any{
				"target": in.Target, "caller": map[string]any{"spiffe_id": c.caller},
				"token":   map[string]any{"present": true, "scopes": []any{"orders.read"}},
				"request": map[string]any{"method": c.method, "path": c.path}, "trust": map[string]any{"score": c.score},
			})
			if err != nil {
				t.Fatal(err)
			}
			if opa := evalOPA(t, q, v); opa != kith {
				t.Errorf("cond=%v %+v: Kith %s, OPA %s", cond, c, kith, opa)
			}
		}
	}
}

// BenchmarkPolicyDecision times one decision — the allow rule of one
// service among n — with Kith's compiled set and with OPA's prepared
// query, in the same run. Compare engine=kith with engine=opa at equal n
// and cel.
func BenchmarkPolicyDecision(b *testing.B) {
	for _, cond := range []bool{false, true} {
		for _, n := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("policies=%d/cel=%v/engine=kith", n, cond), func(b *testing.B) {
				s := compileKith(b, n, cond)
				in := kithInput(n)
				if d := s.Decide(in); d.Action != policy.ActionAllow {
					b.Fatalf("Kith decided %s", d.Action)
				}
				b.ReportAllocs()
				for b.Loop() {
					s.Decide(in)
				}
			})
			b.Run(fmt.Sprintf("policies=%d/cel=%v/engine=opa", n, cond), func(b *testing.B) {
				q := prepareOPA(b, n, cond)
				in := opaInput(b, n)
				if got := evalOPA(b, q, in); got != "allow" {
					b.Fatalf("OPA decided %s", got)
				}
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := q.Eval(ctx, rego.EvalParsedInput(in)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
