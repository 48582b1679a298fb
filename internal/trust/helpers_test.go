package trust

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// recorder is a Sink that keeps what it is told.
type recorder struct {
	signals []Signal
	changes []Change
}

func (r *recorder) Signal(s Signal) { r.signals = append(r.signals, s) }
func (r *recorder) Change(c Change) { r.changes = append(r.changes, c) }

// of returns the signals of kind k (all when k is numKinds).
func (r *recorder) of(k Kind) []Signal {
	var out []Signal
	for _, s := range r.signals {
		if k == numKinds || s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}

// summary lists the signals, for failure messages.
func (r *recorder) summary() string {
	var b strings.Builder
	for _, s := range r.signals {
		fmt.Fprintf(&b, "\n  %s %s %s %s: expected %s; seen %s", s.Time.Format(time.RFC3339), s.Identity, s.Kind, s.Severity, s.Evidence["expected"], s.Evidence["seen"])
	}
	return b.String()
}

// t0 is midnight UTC of the synthetic traffic's first day.
var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// testClock is an injected clock.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time { return c.now }

// newEngine returns an engine with a recorder sink and an injected clock,
// tuned by tune if not nil.
func newEngine(t testing.TB, tune func(*Tuning)) (*Engine, *recorder, *testClock) {
	t.Helper()
	rec, clk := &recorder{}, &testClock{now: t0}
	cfg := Config{Sink: rec, Clock: clk.Now, HashSeed: 42}
	if tune != nil {
		tune(&cfg.Tuning)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, rec, clk
}

// route is one route of a synthetic workload, with the routes that may
// follow it in the workload's sessions.
type route struct {
	target, method, tmpl string
	bytes                float64 // typical request + response bytes
	next                 []int   // indices of the routes that may follow
}

// path returns a concrete path of the route's template.
func (r *route) path(rng *rand.Rand) string {
	return strings.ReplaceAll(r.tmpl, "{id}", fmt.Sprint(rng.IntN(100000)))
}

// cron is a batch burst: calls calls to route over spread, every period
// from offset after midnight.
type cron struct {
	period, offset, spread time.Duration
	calls, route           int
}

// workload is a synthetic benign caller: instances (each its own host
// and credential, rotated every credTTL) walking a Markov chain of
// routes, at a rate that follows the hour of day, with cron bursts.
type workload struct {
	caller, credType string
	net              [3]byte // the instances' /24
	instances        int
	routes           []route
	rate             func(t time.Time) float64 // calls per second
	peak             float64                   // max of rate
	cron             *cron
	credTTL          time.Duration
	errRate          float64
	withRoute        bool // fill Route (else only Path)
	rng              *rand.Rand
	state            []int // route state per instance
	sharedCred       bool  // every instance uses one credential (a client secret)
}

// daily returns a rate function: base calls per second at night, times
// peakMul in the afternoon, smooth.
func daily(base, peakMul float64) (func(time.Time) float64, float64) {
	return func(t time.Time) float64 {
		h := float64(t.Hour()) + float64(t.Minute())/60
		x := (1 - math.Cos(2*math.Pi*(h-3)/24)) / 2 // 0 at 03:00, 1 at 15:00
		return base * (1 + (peakMul-1)*x)
	}, base * peakMul
}

// newWorkload returns a workload of caller with a typical API client's
// routes on two targets.
func newWorkload(caller string, seed uint64, base, peakMul float64) *workload {
	rate, peak := daily(base, peakMul)
	tA, tB := "spiffe://example.org/orders", "spiffe://example.org/payments"
	return &workload{
		caller: caller, credType: "x509_svid", net: [3]byte{10, 1, byte(seed)}, instances: 3,
		routes: []route{
			{tA, "GET", "/v1/orders", 8000, []int{1, 1, 1, 0}},
			{tA, "GET", "/v1/orders/{id}", 1500, []int{2, 3, 0}},
			{tB, "POST", "/v1/payments", 700, []int{4}},
			{tA, "PATCH", "/v1/orders/{id}", 900, []int{0, 1}},
			{tB, "GET", "/v1/payments/{id}", 600, []int{0, 1, 3}},
			{tA, "POST", "/v1/orders/batch", 20000, []int{0}},
		},
		rate: rate, peak: peak, credTTL: time.Hour, errRate: 0.005, withRoute: true,
		rng: rand.New(rand.NewPCG(seed, 7)),
	}
}

// host returns instance i's address.
func (w *workload) host(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{w.net[0], w.net[1], w.net[2], byte(10 + i)})
}

// call returns a call of instance i at t to route ri.
func (w *workload) call(t time.Time, i, ri int) Call {
	r := &w.routes[ri]
	cred := fmt.Sprintf("%s#%d.%d", w.caller, i, t.Unix()/int64(w.credTTL/time.Second))
	if w.sharedCred {
		cred = w.caller + "#client"
	}
	c := Call{Time: t, Caller: w.caller, Credential: cred, CredentialType: w.credType,
		Target: r.target, Method: r.method, Path: r.path(w.rng), Status: 200, Decision: "allow",
		ReqBytes: 200, RespBytes: int64(r.bytes * math.Exp(0.3*w.rng.NormFloat64())), Source: w.host(i),
		Node: "spiffe://example.org/kith/agent/n1"}
	if w.withRoute {
		c.Route = r.tmpl
	}
	if w.rng.Float64() < w.errRate {
		c.Status = 404
	}
	return c
}

// next returns the next route of instance i's session.
func (w *workload) next(i int) int {
	if w.state == nil {
		w.state = make([]int, w.instances)
	}
	r := &w.routes[w.state[i]]
	n := r.next[w.rng.IntN(len(r.next))]
	w.state[i] = n
	return n
}

// run emits the workload's calls from from to to, in time order, to emit.
func (w *workload) run(from, to time.Time, emit func(*Call)) {
	t := from
	var burst []time.Time
	nextCron := time.Time{}
	if w.cron != nil {
		day := from.Truncate(24 * time.Hour)
		nextCron = day.Add(w.cron.offset)
		for nextCron.Before(from) {
			nextCron = nextCron.Add(w.cron.period)
		}
	}
	for {
		t = t.Add(time.Duration(w.rng.ExpFloat64() / w.peak * float64(time.Second)))
		if w.cron != nil && !nextCron.After(t) && nextCron.Before(to) {
			for k := range w.cron.calls {
				burst = append(burst, nextCron.Add(time.Duration(k)*w.cron.spread/time.Duration(w.cron.calls)))
			}
			nextCron = nextCron.Add(w.cron.period)
		}
		for len(burst) > 0 && !burst[0].After(t) {
			// a cron job is its own process: its own host and credential
			c := w.call(burst[0], w.instances, w.cron.route)
			emit(&c)
			burst = burst[1:]
		}
		if !t.Before(to) {
			return
		}
		if w.rng.Float64()*w.peak > w.rate(t) {
			continue
		}
		i := w.rng.IntN(w.instances)
		c := w.call(t, i, w.next(i))
		emit(&c)
	}
}

// days is a duration of n days.
func days(n float64) time.Duration { return time.Duration(n * 24 * float64(time.Hour)) }

// observeAll emits to e.
func observeAll(e *Engine) func(*Call) { return func(c *Call) { e.Observe(c) } }

// sortTagged sorts s stably by cmp.
func sortTagged[T any](s []T, cmp func(a, b T) int) { slices.SortStableFunc(s, cmp) }
