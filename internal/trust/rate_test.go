package trust

import (
	"slices"
	"testing"
	"time"
)

// TestBenignDoesNotFire: several days of ordinary callers — daily peaks
// ten times their night rate, cron bursts, instances interleaving their
// sessions, rotating credentials, a little 404 noise — raise no signal.
func TestBenignDoesNotFire(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    func() *workload
	}{
		{"daily rhythm", func() *workload { return newWorkload("spiffe://example.org/a", 1, 0.2, 10) }},
		{"busy", func() *workload { return newWorkload("spiffe://example.org/b", 2, 3, 4) }},
		{"sparse", func() *workload { return newWorkload("spiffe://example.org/c", 3, 0.01, 5) }},
		{"cron every 6h", func() *workload {
			w := newWorkload("spiffe://example.org/d", 4, 0.3, 3)
			w.cron = &cron{period: 6 * time.Hour, offset: 2 * time.Hour, spread: 30 * time.Second, calls: 400, route: 5}
			return w
		}},
		{"nightly cron", func() *workload {
			w := newWorkload("spiffe://example.org/e", 5, 0.05, 2)
			w.cron = &cron{period: 24 * time.Hour, offset: 2*time.Hour + 17*time.Minute, spread: 5 * time.Minute, calls: 3000, route: 1}
			return w
		}},
		{"paths without templates", func() *workload {
			w := newWorkload("spiffe://example.org/f", 6, 0.5, 4)
			w.withRoute = false
			return w
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, rec, _ := newEngine(t, nil)
			tc.w().run(t0, t0.Add(days(5)), observeAll(e))
			if len(rec.signals) > 0 {
				t.Errorf("%d signals on benign traffic:%s", len(rec.signals), rec.summary())
			}
		})
	}
}

// TestRateSpike: a caller that suddenly calls at 20 times its rate at
// this hour raises rate.spike within seconds, once for the incident.
func TestRateSpike(t *testing.T) {
	e, rec, _ := newEngine(t, nil)
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	start := t0.Add(days(3) + 10*time.Hour)
	w.run(t0, start, observeAll(e))
	if len(rec.signals) > 0 {
		t.Fatalf("signals before the attack:%s", rec.summary())
	}
	// 40 calls a second for two minutes, mixed with the usual traffic.
	attack := w.call(start, 0, 1)
	for k := range 40 * 120 {
		attack.Time = start.Add(time.Duration(k) * time.Second / 40)
		e.Observe(&attack)
	}
	sig := rec.of(RateSpike)
	if len(sig) != 1 {
		t.Fatalf("want one rate.spike, got:%s", rec.summary())
	}
	if d := sig[0].Time.Sub(start); d > 5*time.Second {
		t.Errorf("rate.spike after %v, want within 5s", d)
	}
	if sig[0].Evidence["expected"] == "" || sig[0].Evidence["seen"] == "" {
		t.Errorf("evidence %v lacks expected or seen", sig[0].Evidence)
	}
}

// TestRateSustained: three times the usual rate, spread evenly so that no
// ten seconds look like a burst, raises rate.sustained within the hour.
func TestRateSustained(t *testing.T) {
	e, rec, _ := newEngine(t, nil)
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 3)
	start := t0.Add(days(3) + 9*time.Hour)
	w.run(t0, start, observeAll(e))
	extra := *w
	extra.rate = func(t time.Time) float64 { return 2 * w.rate(t) }
	extra.peak = 2 * w.peak
	end := start.Add(2 * time.Hour)
	merge(start, end, observeAll(e), w, &extra)
	sig := rec.of(RateSustained)
	if len(sig) == 0 {
		t.Fatalf("no rate.sustained; signals:%s", rec.summary())
	}
	if d := sig[0].Time.Sub(start); d > time.Hour {
		t.Errorf("rate.sustained after %v, want within the hour", d)
	}
}

// merge runs workloads over [from, to) and emits their calls in time
// order.
func merge(from, to time.Time, emit func(*Call), ws ...*workload) {
	var all []Call
	for _, w := range ws {
		w.run(from, to, func(c *Call) { all = append(all, *c) })
	}
	sortCalls(all)
	for i := range all {
		emit(&all[i])
	}
}

// sortCalls sorts calls by time, stably.
func sortCalls(cs []Call) {
	slices.SortStableFunc(cs, func(a, b Call) int { return a.Time.Compare(b.Time) })
}

// TestFirstDay: a caller's first day — a ramp, bursts, new routes,
// targets and networks, errors — raises nothing: it learns.
func TestFirstDay(t *testing.T) {
	e, rec, _ := newEngine(t, nil)
	w := newWorkload("spiffe://example.org/new", 9, 1, 6)
	w.cron = &cron{period: 3 * time.Hour, offset: 0, spread: 10 * time.Second, calls: 500, route: 5}
	w.errRate = 0.2
	start := t0.Add(13 * time.Hour) // it appears in the afternoon
	w.run(start, start.Add(23*time.Hour), observeAll(e))
	// and on its first day it also probes a few routes and a new target
	for k := range 30 {
		c := w.call(start.Add(5*time.Hour+time.Duration(k)*time.Second), 0, 0)
		c.Path, c.Route, c.Status, c.Decision = "/v1/unknown/"+string(rune('a'+k)), "", 404, "allow"
		c.Target = "spiffe://example.org/other"
		e.Observe(&c)
	}
	if len(rec.signals) > 0 {
		t.Errorf("signals on a caller's first day:%s", rec.summary())
	}
	if st := e.State(w.caller); !st.WarmingUp {
		t.Errorf("State(new).WarmingUp = false on its first day")
	}
}
