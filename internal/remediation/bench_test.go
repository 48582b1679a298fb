package remediation

import (
	"strconv"
	"testing"

	"github.com/kith-dev/kith/internal/trust"
)

// BenchmarkChange measures what the trust engine pays, under its lock,
// to hand a Change to the ladder.
func BenchmarkChange(b *testing.B) {
	r, err := New(Config{Ladders: []Ladder{ladder(Step{Level: trust.LevelLow, Action: ActionStepUp})}, Auditor: &events{}})
	if err != nil {
		b.Fatal(err)
	}
	cs := make([]trust.Change, 1024)
	for i := range cs {
		cs[i] = change("spiffe://example.org/s"+strconv.Itoa(i), 300, sig("rate.spike", trust.High))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Change(cs[i%len(cs)])
	}
}

// BenchmarkApply measures one evaluation of a caller in an episode with
// nothing left to take: the cost of a tick per caller.
func BenchmarkApply(b *testing.B) {
	f := &fixture{clock: &clock{now: t0}, ev: &events{}, act: &fakeActions{}}
	r, err := New(Config{Ladders: []Ladder{ladder(Step{Level: trust.LevelLow, Action: ActionStepUp},
		Step{Level: trust.LevelUntrusted, Action: ActionRevokeCredentials})}, Auditor: f.ev, Actions: f.act, Clock: f.clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	c := change(caller, 300, sig("rate.spike", trust.High))
	u := update{trust: c.To, reasons: c.Reasons}
	r.apply(b.Context(), caller, u, t0)
	b.ReportAllocs()
	for b.Loop() {
		r.apply(b.Context(), caller, u, t0)
	}
}
