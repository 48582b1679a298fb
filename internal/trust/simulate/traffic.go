package simulate

import (
	"math"
	"strconv"
)

// maxDepth bounds a cascade of calls; the call graph is a DAG, so this
// only guards against a bug.
const maxDepth = 8

// serve is service svc handling a call to route ri that arrives at time
// t: one of its instances makes the handler's calls, in order. It returns
// how long the handling took (ns).
func (g *gen) serve(svc, ri int, t int64, depth int) int64 {
	s := g.w.services[svc]
	if len(s.pods) == 0 || depth >= maxDepth {
		return 0
	}
	p := s.pods[g.r.IntN(len(s.pods))]
	cur := t + int64(g.r.logNormal(math.Log(300e3), 0.5)) // parsing, auth, business logic
	for _, st := range g.w.handlers[ri] {
		if t < st.from || st.until != 0 && t >= st.until || !g.r.chance(st.p) {
			continue
		}
		if st.legacy != "" {
			cur += g.legacyCall(svc, p, st, cur)
			continue
		}
		for {
			cur += g.call(svc, p, st.route, cur, depth) + int64(g.r.logNormal(math.Log(200e3), 0.7))
			if st.loop == 0 || !g.r.chance(st.loop) {
				break
			}
		}
	}
	return cur - t
}

// call is service caller's instance p calling route ri at time t: the
// call, the callee's own calls, and retries of server errors. It returns
// how long the caller waited (ns).
func (g *gen) call(caller int, p int32, ri int, t int64, depth int) int64 {
	w := g.w
	rt := &w.routes[ri]
	id, id2 := g.params(g.r, rt)
	denied := !w.allows(caller, ri)
	start := t
	for attempt := 0; ; attempt++ {
		e := event{t: t, caller: int32(caller), pod: p, route: int32(ri), id: id, id2: id2}
		g.outcome(g.r, &e, rt, caller, denied)
		ei := g.emit(e)
		lat := g.buf[ei].lat
		if e.status < 400 && !denied {
			lat += g.serve(rt.svc, ri, t+int64(g.r.between(100e3, 400e3)), depth+1) / 1000
			g.buf[ei].lat = lat
		}
		t += lat * 1000
		switch {
		case e.status == 401 && attempt == 0:
			t += int64(g.r.between(5e6, 40e6)) // fetch a new token, then retry
		case e.status >= 500 && attempt < 2 && g.r.chance(0.85):
			t += int64(float64(int64(100e6)<<attempt) * g.r.between(1, 2)) // exponential back-off with jitter
		default:
			return t - start
		}
	}
}

// legacyCall is a call to a path the callee removed in an earlier release,
// which an old client still makes: no route template matches it; 404.
func (g *gen) legacyCall(caller int, p int32, st step, t int64) int64 {
	path := st.legacy + strconv.Itoa(1+g.r.IntN(5000))
	lat := int64(g.r.between(300, 1500))
	g.emit(event{t: t, caller: int32(caller), pod: p, route: int32(st.route), status: 404, resp: int64(g.r.between(80, 160)), lat: lat,
		ovr: g.addOverride(override{target: -1, method: "GET", path: path})})
	return lat * 1000
}

// params draws the path parameters of a call to rt.
func (g *gen) params(r rng, rt *route) (id, id2 int64) {
	switch rt.kind {
	case kindList:
		id = 1 + int64(r.geometric(0.6))
		if r.chance(0.3) {
			id2 = [...]int64{20, 50, 100}[r.IntN(3)]
		}
	case kindSearch:
		id = rt.drawID(r)%100000 + int64(r.geometric(0.7))*100000
	case kindHealth, kindAdmin:
	case kindItem:
		id, id2 = rt.drawID(r), 1+int64(r.geometric(0.3))
	default:
		id = rt.drawID(r)
	}
	return id, id2
}

// outcome draws e's status, sizes and latency for a call to rt by caller.
func (g *gen) outcome(r rng, e *event, rt *route, caller int, denied bool) {
	w := g.w
	target := w.services[rt.svc]
	p5xx, slow := target.err5xx, 1.0
	if inc := g.incident(rt.svc, e.t); inc != nil {
		p5xx, slow = inc.p5xx, inc.slow
	}
	if rt.kind == kindHealth {
		p5xx /= 4
	}
	lat := r.logNormal(rt.latMu, rt.latSigma) * slow
	u := r.Float64()
	tokens := w.services[caller].cred != credX509
	switch {
	case denied:
		e.status, e.dec, lat = 403, decDeny, r.between(0.2, 0.8)
	case tokens && u < 0.0004:
		e.status, e.dec, lat = 401, decRefused, r.between(0.2, 0.8) // the token expired on the way
	case u < p5xx:
		e.status = [...]int16{500, 502, 503, 503, 504}[r.IntN(5)]
		if slow > 1 {
			e.status = 503
		}
	case u < p5xx+rt.p404:
		e.status = 404
	case u < p5xx+rt.p404+rt.p4xx:
		e.status = [...]int16{400, 409, 422}[r.IntN(3)]
	case rt.method == "POST" && rt.kind == kindCreate:
		e.status = 201
	case rt.method == "DELETE":
		e.status = 204
	default:
		e.status = 200
	}
	if rt.reqMu > 0 {
		e.req = int64(r.logNormal(rt.reqMu, rt.reqSigma))
	}
	switch {
	case e.status == 204:
	case e.status >= 400:
		e.resp = int64(r.between(60, 260))
		if e.status >= 500 {
			lat *= 1.5
		}
	default:
		resp := r.logNormal(rt.respMu, rt.respSigma)
		if rt.kind == kindList && e.id2 > 0 {
			resp *= float64(e.id2) / 25
		}
		if r.chance(0.015) {
			resp *= min(r.pareto(1.2), 300)
		}
		e.resp = int64(resp)
		lat += resp / 50e3 // about 50 MB/s
	}
	e.lat = int64(lat*1000) + 50
}

// periodic generates the calls that keep their period whatever the load:
// the monitor's health checks and the pollers.
func (g *gen) periodic(w0, w1 int64) {
	w := g.w
	mon := w.services[w.monitor]
	for _, s := range w.services {
		if len(s.pods) == 0 || s == mon {
			continue
		}
		// The monitor checks every service once a minute, at a fixed second.
		t := w0 + int64(s.idx%60)*1e9 + int64(g.r.between(0, 30e6))
		g.call(mon.idx, mon.pods[0], s.health, t, maxDepth)
		if s.pollRoute < 0 {
			continue
		}
		for i, p := range s.pods {
			phase := int64(mix64(uint64(s.idx)<<8|uint64(i)) % uint64(s.pollPeriod))
			for t := w0 - (w0-g.start)%s.pollPeriod + phase; t < w1; t += s.pollPeriod {
				if t >= w0 {
					g.pollCall(s, p, t+int64(g.r.between(0, 50e6)))
				}
			}
		}
	}
}

// pollCall is instance p of s reading its own configuration.
func (g *gen) pollCall(s *service, p int32, t int64) {
	rt := &g.w.routes[s.pollRoute]
	e := event{t: t, caller: int32(s.idx), pod: p, route: int32(s.pollRoute), id: s.pollID}
	g.outcome(g.r, &e, rt, s.idx, false)
	if e.status == 404 {
		e.status, e.resp = 200, int64(g.r.logNormal(rt.respMu, rt.respSigma))
	}
	g.emit(e)
}
