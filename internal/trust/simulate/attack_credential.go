package simulate

import (
	"slices"
	"time"
)

// Attacks with a stolen credential: replayed from a new network, or used
// from two hosts at once.

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
				if rs, cs := g.usageOf(a.victim, func(rt *route) bool { return rt.svc == target }); rs != nil {
					routes, cum = rs, cs
				} else { // it never called: the token is for a service it may call
					target = w.routes[routes[0]].svc
					routes, cum = g.usageOf(a.victim, func(rt *route) bool { return rt.svc == target })
				}
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
