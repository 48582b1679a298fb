package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchSet compiles n policies, one per service, each with four rules:
// the caller's allow (on a template path; with a CEL condition over trust
// and token if withCEL), a step-up for writes, a deny for a pattern of
// callers and an audit for a trust domain. Service i is
// spiffe://example.org/svc-i.
func benchSet(tb testing.TB, n int, withCEL bool) *Set {
	tb.Helper()
	var b strings.Builder
	when := ""
	if withCEL {
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
	docs, err := Parse("bench.yaml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := Compile(docs, CompileOptions{Revision: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// benchInput is a call that the allow rule of the middle service matches.
func benchInput(n int) *Input {
	i := n / 2
	return &Input{
		Target:  fmt.Sprintf("spiffe://example.org/svc-%d", i),
		Caller:  Caller{SPIFFEID: fmt.Sprintf("spiffe://example.org/client-%d", i)},
		Token:   Token{Present: true, Scopes: []string{"orders.read"}},
		Request: Request{Method: "GET", Host: "svc", Path: "/orders/42"},
		Trust:   Trust{Score: 800},
		Time:    time.Unix(1e9, 0),
	}
}

// BenchmarkDecide measures one decision for a matching allow rule among
// 1, 100, 1,000 and 10,000 policies (each for another service), without
// and with a CEL condition, and reports the p50 and p99 of the per-call
// latency besides ns/op and allocations.
func BenchmarkDecide(b *testing.B) {
	for _, withCEL := range []bool{false, true} {
		for _, n := range []int{1, 100, 1000, 10000} {
			name := fmt.Sprintf("policies=%d/cel=%v", n, withCEL)
			b.Run(name, func(b *testing.B) {
				s := benchSet(b, n, withCEL)
				in := benchInput(n)
				if d := s.Decide(in); d.Action != ActionAllow {
					b.Fatalf("decision %s (%s), want allow", d.Action, d.Reason)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					s.Decide(in)
				}
				b.StopTimer()
				p50, p99 := latencyPercentiles(s, in)
				b.ReportMetric(float64(p50.Nanoseconds()), "p50-ns")
				b.ReportMetric(float64(p99.Nanoseconds()), "p99-ns")
			})
		}
	}
}

// latencyPercentiles times batches of decisions (one clock read per batch
// of 16, so that the clock's own cost stays out) and returns the median
// and the 99th percentile of the per-decision time.
func latencyPercentiles(s *Set, in *Input) (p50, p99 time.Duration) {
	const batches, per = 20000, 16
	ds := make([]time.Duration, batches)
	for i := range ds {
		start := time.Now()
		for range per {
			s.Decide(in)
		}
		ds[i] = time.Since(start) / per
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[len(ds)*99/100]
}

// BenchmarkCompile measures compiling 1,000 policies without conditions.
func BenchmarkCompile(b *testing.B) {
	for b.Loop() {
		benchSet(b, 1000, false)
	}
}
