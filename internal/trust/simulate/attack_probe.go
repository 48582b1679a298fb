package simulate

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Attacks that explore: walking routes and paths, calling services never
// called, looping through calls in an order never seen.

// probe is one request of an enumeration.
type probe struct {
	route  int // -1: a path no route template matches
	target int
	method string
	path   string
	id     int64
}

// planEnumeration: from one of its instances, the victim walks the
// routes and paths of one to three services, its usual target first:
// routes it never calls (some allowed, most not), internal routes,
// well-known paths, guessed versions and resources, IDs in sequence. It
// goes at a pace from one call every ten seconds to eight a second,
// while the instance keeps doing its normal work.
func planEnumeration(g *gen, a *attack) time.Duration {
	r := a.r
	rate := math.Pow(10, r.between(-1, math.Log10(8)))
	n := min(r.intBetween(60, 1200), int(rate*2.5*3600))
	sigma := r.between(0.2, 1)
	dur := time.Duration(float64(n)/rate*1.6*1e9) + time.Minute
	var (
		p      int32
		probes []probe
		i      int
	)
	a.step = paced(a, func() int64 { return int64(r.logNormal(math.Log(1e9/rate), sigma)) }, func(g *gen, t int64) bool {
		if probes == nil {
			p = g.podAt(r, a.victim)
			probes = g.probes(a, n)
			a.credential = g.w.credentialAt(&g.w.pods[p], probes[0].target, t)
			var names []string
			for _, pr := range probes {
				if n := g.w.services[pr.target].name; !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
			a.describe("%s walks %d routes and paths of %v (unused routes, internal routes, well-known paths, guesses, IDs in order) at %.2f calls/s, interleaved with its normal calls",
				g.w.services[a.victim].name, len(probes), names, rate)
		}
		if i >= len(probes) {
			return false
		}
		pr := probes[i]
		i++
		if pr.route >= 0 {
			e := g.callWith(a, p, pr.route, t, pr.id, 0)
			if e.status < 300 && pr.id > g.w.routes[pr.route].idMax {
				e.status, e.resp = 404, int64(r.between(80, 200))
			}
			g.attackEmit(a, e)
			return true
		}
		tgt := g.w.services[pr.target]
		e := event{t: t, pod: p, route: int32(tgt.health), lat: int64(r.logNormal(math.Log(800), 0.5)), resp: int64(r.between(80, 200))}
		// Policy allows a path under a resource the caller may use; the
		// service answers 404. Anything else is denied.
		e.status, e.dec = 403, decDeny
		for _, ri := range tgt.business {
			rt := &g.w.routes[ri]
			if g.w.allows(a.victim, ri) && len(pr.path) > len(rt.lit[0]) && pr.path[:len(rt.lit[0])] == rt.lit[0] {
				e.status, e.dec = 404, decAllow
				break
			}
		}
		if pr.method != "GET" && e.status == 404 {
			e.status = 405
		}
		e.ovr = g.addOverride(override{target: pr.target, method: pr.method, path: pr.path})
		g.attackEmit(a, e)
		return true
	})
	return dur
}

// probes builds an enumeration's list of about n requests.
func (g *gen) probes(a *attack, n int) []probe {
	r, w := a.r, g.w
	routes, cum := g.usageOf(a.victim, nil)
	first := w.routes[routes[r.pick(cum)]].svc
	targets := []int{first}
	for range r.IntN(3) {
		o := w.services[r.IntN(len(w.services))]
		if len(o.pods) > 0 && o.tier <= tierLeaf && !slices.Contains(targets, o.idx) && o.idx != a.victim {
			targets = append(targets, o.idx)
		}
	}
	var out []probe
	for _, ti := range targets {
		t := w.services[ti]
		var block []probe
		for _, ri := range t.routes {
			if g.usage[a.victim][ri] == 0 && w.routes[ri].from <= a.start {
				block = append(block, probe{route: ri, target: ti, id: 1 + int64(r.IntN(3))})
			}
		}
		for _, pp := range probePaths {
			if r.chance(0.6) {
				block = append(block, probe{route: -1, target: ti, method: "GET", path: pp})
			}
		}
		for range r.intBetween(5, 20) {
			o := w.services[r.IntN(len(w.services))]
			res := o.arch.resources[r.IntN(len(o.arch.resources))]
			path := "/v1/" + res
			if r.chance(0.5) {
				path += fmt.Sprintf("/%d", 1+r.IntN(100))
			}
			m := "GET"
			if r.chance(0.15) {
				m = [...]string{"POST", "PUT", "DELETE"}[r.IntN(3)]
			}
			block = append(block, probe{route: -1, target: ti, method: m, path: path})
		}
		for _, ri := range t.business {
			if rt := &w.routes[ri]; r.chance(0.4) && len(rt.tmpl) > 3 {
				block = append(block, probe{route: -1, target: ti, method: rt.method, path: "/v2" + rt.tmpl[3:]})
			}
		}
		// Fixed-up paths keep their placeholders out of real requests.
		for i := range block {
			if block[i].route < 0 {
				block[i].path = expandBraces(block[i].path, 1+r.IntN(50))
			}
		}
		r.Shuffle(len(block), func(i, j int) { block[i], block[j] = block[j], block[i] })
		out = append(out, block...)
	}
	// The rest walks IDs of a route it may use, in order.
	var walk []int
	for _, ti := range targets {
		for _, ri := range w.services[ti].business {
			if rt := &w.routes[ri]; rt.params > 0 && rt.method == "GET" && w.allows(a.victim, ri) && rt.from <= a.start {
				walk = append(walk, ri)
			}
		}
	}
	start := int64(1 + r.IntN(5))
	for k := 0; len(out) < n && len(walk) > 0; k++ {
		ri := walk[k%len(walk)]
		out = append(out, probe{route: ri, target: w.routes[ri].svc, id: start + int64(k/len(walk))})
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// expandBraces replaces each {param} of a template path with id.
func expandBraces(path string, id int) string {
	for {
		i := indexByte(path, '{')
		if i < 0 {
			return path
		}
		j := indexByte(path[i:], '}')
		if j < 0 {
			return path
		}
		path = fmt.Sprintf("%s%d%s", path[:i], id, path[i+j+1:])
	}
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// planLateralFanout: from one instance, calls to 3–10 services the victim
// has never called, a few to forty each, interleaved over 10–90 minutes:
// mostly reads and health checks, some writes; policy denies most, a
// service open to the domain answers.
func planLateralFanout(g *gen, a *attack) time.Duration {
	r, w := a.r, g.w
	var cands []int
	for _, o := range w.services {
		if o.idx != a.victim && o.tier <= tierLeaf && o.startAt == 0 &&
			!slices.ContainsFunc(w.services[a.victim].edges, func(e *edge) bool { return e.to == o.idx }) {
			cands = append(cands, o.idx)
		}
	}
	if len(cands) < 3 {
		return 0
	}
	k := r.intBetween(3, min(10, len(cands)))
	dur := minutes(r.between(10, 90))
	var (
		p     int32
		sched []probe
		times []int64
		i     int
	)
	a.step = func(g *gen, w0, w1 int64) {
		if sched == nil {
			p = g.podAt(r, a.victim)
			r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
			var names []string
			for _, ti := range cands[:k] {
				t := w.services[ti]
				names = append(names, t.name)
				for range r.intBetween(3, 40) {
					ri := t.health
					switch u := r.Float64(); {
					case u < 0.75:
						reads := slices.DeleteFunc(slices.Clone(t.business), func(ri int) bool { return !w.routes[ri].kind.reads() })
						if len(reads) > 0 {
							ri = reads[r.IntN(len(reads))]
						}
					case u < 0.9:
						ri = t.business[r.IntN(len(t.business))]
					}
					sched = append(sched, probe{route: ri, target: ti})
					times = append(times, a.start+int64(r.Float64()*float64(dur)))
				}
			}
			slices.Sort(times)
			a.credential = w.credentialAt(&w.pods[p], cands[0], a.start)
			a.describe("%s calls %d services it never called (%v): %d calls over %v, mostly reads; policy denies most",
				w.services[a.victim].name, k, names, len(sched), dur.Round(time.Second))
		}
		for ; i < len(sched) && times[i] < w1; i++ {
			if times[i] >= w0 {
				g.attackEmit(a, g.normalCall(a, p, sched[i].route, times[i]))
			}
		}
	}
	return dur
}

// planSequenceAbuse: from one instance, the victim loops between two
// routes it uses (or at least may call) — C then D, on the same object if
// both take one, again and again — though none of its handlers ever calls
// D right after C: 25–300 rounds at a half to three times the victim's
// own pace.
func planSequenceAbuse(g *gen, a *attack) time.Duration {
	r, w := a.r, g.w
	// Transitions the victim's handlers make.
	seen := map[[2]int]bool{}
	for _, h := range w.services[a.victim].business {
		hs := w.handlers[h]
		for i := range hs {
			seen[[2]int{hs[i].route, hs[i].route}] = true
			if i > 0 {
				seen[[2]int{hs[i-1].route, hs[i].route}] = true
			}
		}
	}
	var allowed []int
	for _, e := range w.services[a.victim].edges {
		allowed = append(allowed, e.allowed...)
	}
	// Pairs on one object (both routes take an ID) if there are any.
	var pairs, objectPairs [][2]int
	for _, c := range allowed {
		for _, d := range allowed {
			if c != d && !seen[[2]int{c, d}] && !seen[[2]int{d, c}] && w.routes[c].from == 0 && w.routes[d].from == 0 {
				pairs = append(pairs, [2]int{c, d})
				if w.routes[c].params > 0 && w.routes[d].params > 0 {
					objectPairs = append(objectPairs, [2]int{c, d})
				}
			}
		}
	}
	if len(objectPairs) > 0 && r.chance(0.8) {
		pairs = objectPairs
	}
	if len(pairs) == 0 {
		return 0
	}
	rounds := r.intBetween(25, 300)
	pace := r.between(0.5, 3) // times the victim's own rate
	const dur = 95 * time.Minute
	var (
		p       int32
		pair    [2]int
		k       int
		between float64
	)
	a.step = paced(a, func() int64 { return int64(r.logNormal(math.Log(between), 0.4)) }, func(g *gen, t int64) bool {
		if k == 0 {
			// A round (two calls) at about the victim's own pace, within
			// 0.5 to 30 seconds, for at most an hour and a half.
			total := 0
			for _, n := range g.usage[a.victim] {
				total += int(n)
			}
			perSec := pace * float64(total) / (float64(t-g.start) / 1e9)
			between = min(max(2e9/perSec, 0.5e9), 30e9)
			rounds = min(rounds, int(float64(90*time.Minute)/between))
			// Routes it uses, so that only the order of the calls is new:
			// both if it can, else one.
			wts := make([]float64, len(pairs))
			for i, pr := range pairs {
				used := 0
				for _, ri := range pr {
					if g.usage[a.victim][ri] > 0 {
						used++
					}
				}
				wts[i] = [...]float64{0.001, 0.05, 1}[used]
			}
			pair = pairs[r.pick(cumulative(wts))]
			c, d := &w.routes[pair[0]], &w.routes[pair[1]]
			p = g.podAt(r, a.victim)
			a.credential = w.credentialAt(&w.pods[p], c.svc, t)
			a.describe("%s loops %s %s (%s) → %s %s (%s), %d rounds, one every %.1fs; its handlers never make this transition, and it made these calls %d and %d times before",
				w.services[a.victim].name, c.method, c.tmpl, w.services[c.svc].name, d.method, d.tmpl, w.services[d.svc].name, rounds, between/1e9,
				g.usage[a.victim][pair[0]], g.usage[a.victim][pair[1]])
		}
		c := &w.routes[pair[0]]
		if k >= rounds {
			return false
		}
		k++
		id := c.drawID(r)
		e := g.callWith(a, p, pair[0], t, id, 0)
		g.attackEmit(a, e)
		t2 := t + e.lat*1000 + int64(r.between(20e6, 300e6))
		g.attackEmit(a, g.callWith(a, p, pair[1], t2, id, 0))
		return true
	})
	return dur
}
