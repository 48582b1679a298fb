package simulate

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// The eight scenarios. Each plan function draws the attack's parameters
// from a.r, returns how long it may last (0 if the victim does not suit
// it), and sets a.step, which sets itself up on its first call from the
// state of the world at that time (the victim's pods, the routes it has
// used, its busiest hour).

// planTokenReplay: a credential of one of the victim's instances, stolen
// some minutes before (a token from a log, a key from a disk), replayed
// from a new /24 on a new node — a compromised node of the cluster, a
// rogue node, or a host outside it — while it stays valid, mostly with
// the routes the victim uses. Once it expires the attacker sees 401s and
// stops.
func planTokenReplay(g *gen, a *attack) time.Duration {
	r, s := a.r, g.w.services[a.victim]
	dur := minutes(r.between(2, 20))
	pace := r.between(0.5, 3) // times an instance's rate in the busiest hour
	n := 0
	var validity time.Duration
	if s.cred == credX509 {
		validity = minutes(r.between(10, 50))
	} else {
		validity = time.Duration(s.refresh)*time.Duration(r.intBetween(1, 2)) + minutes(r.between(0.5, 2))
	}
	mode := r.IntN(100)
	var (
		p          int32
		o          override
		ovr        int32
		routes     []int
		cum        []float64
		refused    int
		validUntil int64
	)
	var gap float64
	a.step = paced(a, func() int64 { return int64(r.ExpFloat64() * gap) }, func(g *gen, t int64) bool {
		if ovr == 0 {
			p = g.podAt(r, a.victim)
			perSec := max(pace*g.busiestPerSec(a.victim)/float64(len(s.pods)), 10/dur.Seconds())
			gap, n = 1e9/perSec, int(perSec*dur.Seconds())
			routes, cum = g.usageOf(a.victim, nil)
			target := g.w.routes[routes[r.pick(cum)]].svc
			if s.cred != credX509 { // a token is for one audience
				routes, cum = g.usageOf(a.victim, func(rt *route) bool { return rt.svc == target })
			}
			stolenAt := max(t-int64(r.between(0.5, 1.5)*float64(s.refresh)), g.w.pods[p].born)
			if s.cred == credX509 {
				stolenAt = max(t-int64(minutes(r.between(5, 45))), g.w.pods[p].born)
			}
			a.credential = g.w.credentialAt(&g.w.pods[p], target, stolenAt)
			validUntil = t + int64(validity)
			o = override{target: -1, credential: a.credential}
			var where string
			ni, ip, strange := g.strangeNode(r, a.victim)
			switch {
			case mode < 45 && strange:
				o.source, o.node, o.v6 = ip, g.w.nodes[ni].id, g.w.nodes[ni].v6
				where = "a compromised node of the cluster"
			case mode < 80:
				o.node, o.source = g.rogueNode(r)
				where = "a rogue node joined with a stolen join token"
			default:
				o.source = foreignAddress(r)
				where = "a host outside the mesh (no node reports it)"
			}
			ovr = g.addOverride(o)
			a.describe("%s credential of %s (stolen %v earlier from %s) replayed from %s, node %q, %s: about %d calls over %v, valid for %v of them, mostly the routes it uses to %s",
				s.cred, s.name, time.Duration(t-stolenAt).Round(time.Second), g.w.podAddr(p), addrText(o.source, o.v6), o.node, where,
				n, dur.Round(time.Second), validity.Round(time.Second), g.w.services[target].name)
		}
		var e event
		ri := routes[r.pick(cum)]
		if r.chance(0.2) { // and some reads of its own
			tgt := g.w.services[g.w.routes[ri].svc]
			ri = tgt.business[r.IntN(len(tgt.business))]
		}
		e = g.normalCall(a, p, ri, t)
		if t >= validUntil {
			e.status, e.dec, e.resp, e.lat = 401, decRefused, int64(r.between(80, 160)), int64(r.between(200, 900))
			refused++
		}
		e.ovr = g.addOverride(o)
		g.attackEmit(a, e)
		return refused < 3
	})
	return dur
}

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

// planLowAndSlow: from one instance, a steady extra 30–90% of the
// victim's own average rate on one of its read routes, day and night for
// 6–18 hours, paging through a list or walking IDs in order — never
// more in a minute than a fraction of its busiest minutes.
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
		for range r.poisson(perSec * float64(w1-w0) / 1e9) {
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
// normally uses with responses 15 to 2,000 times its usual size — a few
// huge ones in minutes, or a steady stream of large ones for up to an
// hour — at a pace not far from its normal one.
func planExfiltration(g *gen, a *attack) time.Duration {
	r := a.r
	if !g.hasRoute(a.victim, func(rt *route) bool { return rt.kind.reads() }) {
		return 0
	}
	burst := r.chance(0.4)
	var n int
	var dur time.Duration
	var lo, hi float64
	if burst {
		n, dur, lo, hi = r.intBetween(5, 30), minutes(r.between(2, 15)), 200, 2000
	} else {
		n, dur, lo, hi = r.intBetween(50, 400), minutes(r.between(15, 60)), 15, 80
	}
	factor := math.Exp(r.between(math.Log(lo), math.Log(hi)))
	var (
		p  int32
		ri = -1
	)
	a.step = paced(a, expGap(r, float64(dur)/float64(n)), func(g *gen, t int64) bool {
		if ri < 0 {
			p = g.podAt(r, a.victim)
			routes, cum := g.usageOf(a.victim, func(rt *route) bool { return rt.kind.reads() })
			ri = routes[r.pick(cum)]
			rt := &g.w.routes[ri]
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
// routes it may call — C then D on the same object, again and again —
// though none of its handlers ever calls D right after C: 25–300 rounds,
// a round every one to ten seconds.
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
	between := r.between(1, 10) * 1e9
	dur := time.Duration(float64(rounds)*between*1.5) + time.Minute
	var (
		p    int32
		pair [2]int
		k    int
	)
	a.step = paced(a, func() int64 { return int64(r.logNormal(math.Log(between), 0.4)) }, func(g *gen, t int64) bool {
		if k == 0 {
			// Rarely used routes: their transitions are the rarest.
			wts := make([]float64, len(pairs))
			for i, pr := range pairs {
				wts[i] = 1 / (1 + float64(g.usage[a.victim][pr[0]]+g.usage[a.victim][pr[1]]))
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

// planTwoHosts: one credential of one instance, copied to a second host
// that uses it at the same time as the instance: for 10–55 minutes, within
// the credential's lifetime, at the pace of an instance, on the victim's
// routes, in the daytime, while the instance is busy. The second host is
// another node the victim runs on (a known network for the identity, not
// for the credential), or a strange one.
func planTwoHosts(g *gen, a *attack) time.Duration {
	r, w := a.r, g.w
	s := w.services[a.victim]
	if s.cred != credX509 && !a.lenient { // a token's short life leaves little overlap
		return 0
	}
	a.hours = [2]float64{10, 19} // while the instance is busy too
	dur := minutes(r.between(10, 55))
	if s.cred != credX509 {
		dur = time.Duration(float64(s.refresh) * r.between(0.6, 0.95))
	}
	mode := r.IntN(100)
	var (
		p           int32
		o           override
		routes      []int
		cum         []float64
		perSec      float64
		set         bool
		from, until int64
	)
	a.step = func(g *gen, w0, w1 int64) {
		if !set {
			set = true
			// The instance that called last, and the target it called.
			p = g.lastPod[a.victim]
			target := int(g.lastTarget[a.victim])
			if !slices.Contains(s.pods, p) {
				p = g.podAt(r, a.victim)
			}
			routes, cum = g.usageOf(a.victim, nil)
			pd := &w.pods[p]
			// The credential the instance holds now, used by the second
			// host until the instance rotates it.
			from = w0
			var epochEnd int64
			if s.cred == credX509 {
				epochEnd = pd.born + ((w0-pd.born)/hour+1)*hour
			} else {
				routes, cum = g.usageOf(a.victim, func(rt *route) bool { return rt.svc == target })
				salt := mix64(pd.seed ^ uint64(target)<<40)
				phase := int64(salt % uint64(s.refresh))
				epochEnd = ((w0-pd.born+phase)/s.refresh+1)*s.refresh + pd.born - phase
			}
			if epochEnd-from < 2*minute { // too close to rotation: take the next one
				from = epochEnd + int64(r.between(5e9, 30e9))
				epochEnd += hour
				if s.cred != credX509 {
					epochEnd = from + s.refresh - 30e9
				}
			}
			until = min(a.end, epochEnd-int64(r.between(1e9, 20e9)))
			a.credential = w.credentialAt(pd, target, from)
			var where string
			var others []int
			for _, q := range s.pods {
				if n := int(w.pods[q].node); n != int(pd.node) && !slices.Contains(others, n) {
					others = append(others, n)
				}
			}
			switch {
			case mode < 55 && len(others) > 0:
				ni := others[r.IntN(len(others))]
				o = override{target: -1, credential: a.credential, source: w.nodes[ni].net | uint32(r.intBetween(200, 254)), node: w.nodes[ni].id, v6: w.nodes[ni].v6}
				where = "another node the service runs on"
			case mode < 90:
				ni, ip, ok := g.strangeNode(r, a.victim)
				o = override{target: -1, credential: a.credential, source: ip, node: w.nodes[ni].id, v6: w.nodes[ni].v6}
				if !ok {
					o.v6 = false
					o.node, o.source = g.rogueNode(r)
				}
				where = "a node the service never ran on"
			default:
				o = override{target: -1, credential: a.credential, source: foreignAddress(r)}
				where = "a host outside the mesh"
			}
			perSec = g.busiestPerSec(a.victim) / float64(max(len(s.pods), 1)) * r.between(0.3, 1.5)
			perSec = max(perSec, 15/(float64(until-from)/1e9)) // enough calls to tell
			a.describe("%s credential of %s at %s also used from %s (%s, node %q) at the same time, %.1f calls/min, for %v",
				s.cred, s.name, w.podAddr(p), addrText(o.source, o.v6), where, o.node, perSec*60, time.Duration(until-from).Round(time.Second))
		}
		lo, hi := max(w0, from), min(w1, until)
		if lo >= hi {
			return
		}
		for range r.poisson(perSec * float64(hi-lo) / 1e9) {
			e := g.normalCall(a, p, routes[r.pick(cum)], lo+int64(r.Float64()*float64(hi-lo)))
			e.ovr = g.addOverride(o)
			g.attackEmit(a, e)
		}
	}
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
