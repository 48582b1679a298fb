package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// richPolicies has rules of every action and selector on two targets,
// each rule named uniquely so that it can be recognised after shuffling.
const richPolicies = `
name: orders
target: spiffe://example.org/orders
rules:
  - {name: billing-read, from: {spiffe_ids: [spiffe://example.org/billing]}, to: {methods: [GET], paths: ["/orders/{id}"]}, action: allow}
  - {name: reports, from: {spiffe_ids: ["spiffe://example.org/ns/*/sa/reports"]}, to: {paths: ["/orders/*"]}, action: restrict, scopes: [orders.read]}
  - {name: partner, from: {trust_domains: [partner.example]}, action: rate_limit, rate_limit: {rps: 5}}
  - {name: partner-slow, from: {trust_domains: [partner.example]}, to: {methods: [POST]}, action: rate_limit, rate_limit: {rps: 1}}
  - {name: cli, from: {client_ids: [cli]}, action: audit}
  - {name: writes-step-up, to: {methods: [POST, DELETE]}, action: step_up, step_up: {acr: [urn:mfa]}}
  - {name: low-trust, when: "trust.score < 300", action: deny}
  - {name: anomaly, when: "'anomaly.rate' in trust.signals", action: quarantine}
  - {name: scoped-write, from: {scopes: [orders.write]}, to: {methods: [POST]}, action: allow}
---
name: orders-extra
target: spiffe://example.org/orders
rules:
  - {name: audit-all, action: audit}
  - {name: tenant, when: "token.claims.tenant == 'acme'", to: {paths: ["/tenants/*"]}, action: allow}
  - {name: restrict-more, from: {spiffe_ids: ["spiffe://example.org/**"]}, to: {paths: ["/orders/*"]}, action: restrict, scopes: [orders.read, orders.list]}
---
name: all-services
target: spiffe://example.org/*
mode: dry_run
rules:
  - {name: dry-deny-posts, to: {methods: [POST]}, action: deny}
`

// inputs returns a grid of calls over callers, methods, paths, tokens
// and trust states.
func inputs() []*Input {
	var out []*Input
	callers := []Caller{{SPIFFEID: billing}, {SPIFFEID: reports}, {SPIFFEID: partner}, {SPIFFEID: stranger, ClientID: "cli"}, {ClientID: "cli"}, {}}
	for _, c := range callers {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			for _, p := range []string{"/orders/1", "/orders/1/items", "/tenants/a", "/x/../orders/1"} {
				for _, tok := range []Token{{}, {Present: true, Scopes: []string{"orders.write"}, ACR: "urn:mfa", Claims: map[string]any{"tenant": "acme"}}, {Present: true}} {
					for _, tr := range []Trust{{Score: 800}, {Score: 100}, {Score: 800, Signals: []string{"anomaly.rate"}}} {
						for _, target := range []string{"spiffe://example.org/orders", "spiffe://example.org/other"} {
							out = append(out, &Input{Target: target, Caller: c, Request: Request{Method: m, Path: p}, Token: tok, Trust: tr, Time: t0})
						}
					}
				}
			}
		}
	}
	return out
}

// summary is what must not depend on rule order.
func summaryOf(d Decision) string {
	o := d.Obligations
	sc := slices.Clone(o.Scopes)
	slices.Sort(sc)
	s := fmt.Sprintf("%s by %s scopes=%v rate=%v stepup=%v record=%v signal=%s err=%v protected=%v",
		d.Action, d.Rule.Name, sc, o.RateLimit, o.StepUp, o.Record, o.Signal, d.Err, d.Protected)
	if d.HasDryRun {
		s += fmt.Sprintf(" | dry %s by %s", d.DryRun.Action, d.DryRun.Rule.Name)
	}
	return s
}

// TestOrderIndependence shuffles documents and rules and shows that no
// decision changes.
func TestOrderIndependence(t *testing.T) {
	base, err := Parse("rich.yaml", []byte(richPolicies))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Compile(base, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ins := inputs()
	want := make([]string, len(ins))
	actions := map[Action]int{}
	for i, in := range ins {
		d := ref.Decide(in)
		want[i] = summaryOf(d)
		actions[d.Action]++
	}
	// The grid reaches every action, so the test means something.
	for a := ActionAllow; a <= ActionQuarantine; a++ {
		if actions[a] == 0 {
			t.Errorf("no input of the grid is decided %s", a)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for perm := range 20 {
		docs := make([]Document, len(base))
		for i, d := range base {
			d.Rules = slices.Clone(d.Rules)
			rng.Shuffle(len(d.Rules), func(a, b int) { d.Rules[a], d.Rules[b] = d.Rules[b], d.Rules[a] })
			docs[i] = d
		}
		rng.Shuffle(len(docs), func(a, b int) { docs[a], docs[b] = docs[b], docs[a] })
		s, err := Compile(docs, CompileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range ins {
			if got := summaryOf(s.Decide(in)); got != want[i] {
				t.Fatalf("permutation %d, input %+v:\n got %s\nwant %s", perm, *in, got, want[i])
			}
		}
	}
}

// TestIndexAgreesWithExplain shows that the caller index finds every rule
// that can match: Explain, which checks every rule of the target, decides
// the same.
func TestIndexAgreesWithExplain(t *testing.T) {
	s := mustCompile(t, richPolicies)
	for _, in := range inputs() {
		d := s.Decide(in)
		ex := s.Explain(in)
		if diff := cmp.Diff(d, ex.Decision, cmp.Comparer(sameError)); diff != "" {
			t.Fatalf("input %+v: Decide and Explain differ (-Decide +Explain):\n%s", *in, diff)
		}
	}
}

func TestExplainText(t *testing.T) {
	s := mustCompile(t, richPolicies)
	in := call(billing, "DELETE", "/orders/42")
	var b strings.Builder
	if err := s.Explain(in).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Decision: step_up",
		`Step-up:  WWW-Authenticate: Bearer error="insufficient_user_authentication"`,
		"Dry run:  step_up",
		`orders#0 (billing-read)`,
		`method "DELETE" is not in to.methods`,
		`* orders#5 (writes-step-up)`,
		"matched: the token does not satisfy the step-up",
		"when is false: trust.score < 300",
		`caller spiffe://example.org/billing matches none of from.spiffe_ids [spiffe://example.org/ns/*/sa/reports]`,
		"deny [dry run]",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("explanation lacks %q:\n%s", want, b.String())
		}
	}
}

// TestDecideAllocations shows that a decision without conditions
// allocates nothing, however many policies other services have.
func TestDecideAllocations(t *testing.T) {
	for _, n := range []int{1, 1000} {
		s := benchSet(t, n, false)
		in := benchInput(n)
		if d := s.Decide(in); d.Action != ActionAllow {
			t.Fatalf("%d policies: %s (%s)", n, d.Action, d.Reason)
		}
		if got := testing.AllocsPerRun(100, func() { s.Decide(in) }); got != 0 {
			t.Errorf("%d policies: %v allocations per decision, want 0", n, got)
		}
	}
}
