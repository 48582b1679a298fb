package simulate

import (
	"math"
	"slices"
	"time"
)

// Attacks of volume: slow scraping over hours, large responses, a rate
// spike.

// planLowAndSlow: from one instance, a steady extra 30–90% of the
// victim's own average rate on one of its read routes, day and night for
// 6–18 hours, paging through a list or walking IDs in order — never so
// much that the victim's minute beats its busiest minute so far.
func planLowAndSlow(g *gen, a *attack) time.Duration {
	r := a.r
	if !g.hasRoute(a.victim, func(rt *route) bool { return rt.kind.reads() }) {
		return 0
	}
	dur := time.Duration(r.between(6, 18) * float64(time.Hour))
	frac := r.between(0.3, 0.9)
	var (
		p       int32
		ri      int
		perSec  float64
		next    int64
		pageLen int64
	)
	a.step = func(g *gen, w0, w1 int64) {
		if perSec == 0 {
			p = g.podAt(r, a.victim)
			// A read it makes often, a list more likely: a scraper wants
			// many records per call and to hide in a busy route.
			poll := g.w.services[a.victim].pollRoute
			routes, _ := g.usageOf(a.victim, func(rt *route) bool { return rt.kind.reads() && (poll < 0 || rt != &g.w.routes[poll]) })
			if len(routes) == 0 {
				routes, _ = g.usageOf(a.victim, func(rt *route) bool { return rt.kind.reads() })
			}
			wts := make([]float64, len(routes))
			for i, c := range routes {
				wts[i] = math.Pow(float64(g.usage[a.victim][c])+1, 1.5)
				if g.w.routes[c].kind.paged() {
					wts[i] *= 4
				}
			}
			ri = routes[r.pick(cumulative(wts))]
			elapsed := float64(w0-g.start) / 1e9
			avg := float64(g.usage[a.victim][ri]) / elapsed
			perSec = min(max(frac*avg, 0.4/60), 0.3*g.busiestPerSec(a.victim))
			next = 1 + int64(r.IntN(20))
			pageLen = [...]int64{50, 100, 100, 200}[r.IntN(4)]
			rt := &g.w.routes[ri]
			a.credential = g.w.credentialAt(&g.w.pods[p], rt.svc, w0)
			a.describe("%s reads %s %s on %s %.0f%% more than its average (%.2f extra calls/min, evenly, day and night) for %v, %s in order",
				g.w.services[a.victim].name, rt.method, rt.tmpl, g.w.services[rt.svc].name, 100*perSec/max(avg, 1e-9), perSec*60,
				dur.Round(time.Minute), map[bool]string{true: "pages", false: "IDs"}[rt.kind.paged()])
		}
		rt := &g.w.routes[ri]
		// Never more in a minute than the victim's busiest minute so far,
		// with its own calls of this minute counted.
		n := min(r.poisson(perSec*float64(w1-w0)/1e9), g.busiestM[a.victim]-1-g.pendingOf(a.victim, w0, w1))
		for range n {
			t := w0 + int64(r.Float64()*float64(w1-w0))
			var e event
			if rt.kind.paged() {
				e = g.callWith(a, p, ri, t, next, pageLen)
			} else {
				e = g.callWith(a, p, ri, t, next%rt.idMax+1, 0)
			}
			next++
			g.attackEmit(a, e)
		}
	}
	return dur
}

// pendingOf returns the calls of caller waiting to be written with times
// in [w0, w1): all of them, once the benign traffic of the minute is made.
func (g *gen) pendingOf(caller int, w0, w1 int64) int {
	n := 0
	for i := range g.buf {
		if e := &g.buf[i]; int(e.caller) == caller && e.t >= w0 && e.t < w1 {
			n++
		}
	}
	return n
}

// hasRoute reports whether caller's edges have a route that keep accepts.
func (g *gen) hasRoute(caller int, keep func(*route) bool) bool {
	for _, e := range g.w.services[caller].edges {
		for _, ri := range e.routes {
			if keep(&g.w.routes[ri]) {
				return true
			}
		}
	}
	return false
}

// planExfiltration: from one instance, reads of a route the victim
// normally uses with responses 15 to 2,000 times its usual size — a
// burst of a few huge ones in minutes, or for up to an hour a steady
// stream of large ones at one to three times its usual pace on that
// route.
func planExfiltration(g *gen, a *attack) time.Duration {
	r := a.r
	if !g.hasRoute(a.victim, func(rt *route) bool { return rt.kind.reads() }) {
		return 0
	}
	burst := r.chance(0.4)
	var (
		n      int
		dur    time.Duration
		lo, hi float64
		pace   = r.between(1, 3)
	)
	if burst {
		n, dur, lo, hi = r.intBetween(5, 30), minutes(r.between(2, 15)), 200, 2000
	} else {
		dur, lo, hi = minutes(r.between(15, 60)), 15, 80
	}
	factor := math.Exp(r.between(math.Log(lo), math.Log(hi)))
	var (
		p   int32
		ri  = -1
		gap float64
	)
	a.step = paced(a, func() int64 { return int64(r.ExpFloat64() * gap) }, func(g *gen, t int64) bool {
		if ri < 0 {
			p = g.podAt(r, a.victim)
			routes, cum := g.usageOf(a.victim, func(rt *route) bool { return rt.kind.reads() })
			ri = routes[r.pick(cum)]
			rt := &g.w.routes[ri]
			if !burst {
				perSec := pace * float64(g.usage[a.victim][ri]) / (float64(t-g.start) / 1e9)
				n = max(int(perSec*dur.Seconds()), 8)
			}
			gap = float64(dur) / float64(n)
			a.credential = g.w.credentialAt(&g.w.pods[p], rt.svc, t)
			a.describe("%s reads %s %s on %s, a route it uses, with responses about %.0f× the usual size: about %d calls over %v (%s)",
				g.w.services[a.victim].name, rt.method, rt.tmpl, g.w.services[rt.svc].name, factor, n, dur.Round(time.Second),
				map[bool]string{true: "a burst of huge responses", false: "a steady stream of large responses"}[burst])
		}
		rt := &g.w.routes[ri]
		id, id2 := g.params(r, rt)
		if rt.kind == kindList {
			id2 = [...]int64{1000, 2000, 5000, 10000}[r.IntN(4)]
		}
		e := g.callWith(a, p, ri, t, id, id2)
		e.status = 200
		resp := math.Exp(rt.respMu) * factor * r.logNormal(0, 0.3)
		e.resp = int64(resp)
		e.lat = int64((math.Exp(rt.latMu) + resp/40e3) * 1000)
		g.attackEmit(a, e)
		return true
	})
	return dur
}

// planRateSpike: the victim's rate jumps to 2–6 times its busiest minute
// so far and stays there for 10 minutes to 2 hours, with its usual mix of
// routes, from one instance or all of them, ramping up in under a minute.
func planRateSpike(g *gen, a *attack) time.Duration {
	r, w := a.r, g.w
	dur := minutes(r.between(10, 120))
	m := r.between(2, 6)
	ramp := r.between(10e9, 60e9)
	all := r.chance(0.5)
	var (
		base   float64
		pods   []int32
		routes []int
		cum    []float64
	)
	a.step = func(g *gen, w0, w1 int64) {
		if base == 0 {
			base = max(float64(g.busiestM[a.victim]), 2) / 60
			routes, cum = g.usageOf(a.victim, nil)
			pods = slices.Clone(w.services[a.victim].pods)
			if !all {
				pods = pods[r.IntN(len(pods)):][:1]
			}
			a.credential = w.credentialAt(&w.pods[pods[0]], w.routes[routes[0]].svc, w0)
			a.describe("%s calls at %.1f× its busiest minute so far (%.0f calls/min, from %d instance(s)) for %v, its usual mix of routes",
				w.services[a.victim].name, m, m*base*60, len(pods), dur.Round(time.Second))
		}
		for range r.poisson(m * base * float64(w1-w0) / 1e9) {
			t := w0 + int64(r.Float64()*float64(w1-w0))
			if float64(t-a.start) < ramp && r.Float64() > float64(t-a.start)/ramp {
				continue
			}
			g.attackEmit(a, g.normalCall(a, pods[r.IntN(len(pods))], routes[r.pick(cum)], t))
		}
	}
	return dur
}
