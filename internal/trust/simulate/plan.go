package simulate

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// incident is an outage of a service: server errors and slow answers,
// which its callers retry.
type incident struct {
	svc        int
	start, end int64
	p5xx, slow float64
}

// incident returns the incident of service svc at t, if any.
func (g *gen) incident(svc int, t int64) *incident {
	for i := range g.incidents {
		inc := &g.incidents[i]
		if inc.svc == svc && t >= inc.start && t < inc.end {
			return inc
		}
	}
	return nil
}

// note records a benign event for the summary.
func (g *gen) note(t int64, kind, svc, format string, args ...any) {
	g.events = append(g.events, Event{Time: time.Unix(0, t).UTC(), Kind: kind, Service: svc, Detail: fmt.Sprintf(format, args...)})
}

// planWorld schedules the benign changes of the run: rolling deploys,
// node replacements, outages, a deploy that adds a route, a new service.
func (g *gen) planWorld(r rng) {
	w := g.w
	days := g.cfg.Days
	for _, s := range w.services {
		s.dayNoise = make([]float64, days)
		for d := range s.dayNoise {
			s.dayNoise[d] = math.Exp(0.08 * r.NormFloat64())
		}
	}
	// Deploys: on weekdays, in office hours, a third of the services each.
	for d := range days {
		t0 := g.start + int64(d)*day
		if weekend(t0) {
			continue
		}
		for _, s := range w.services {
			if s.tier > tierLeaf || !r.chance(0.3) {
				continue
			}
			g.deploy(r, s, t0+int64(r.between(10, 17)*float64(hour)), "rolling deploy")
		}
	}
	// Node replacements, every day or so.
	for t := g.start + int64(r.between(10, 30)*float64(hour)); t < g.end; t += int64(r.between(18, 40) * float64(hour)) {
		g.schedule(action{t: t, kind: actReplaceNode, node: -1})
	}
	// Outages: a few per week across the mid and leaf services.
	for _, s := range w.services {
		if s.tier != tierMid && s.tier != tierLeaf {
			continue
		}
		for range r.poisson(0.25 * float64(days) / 7) {
			start := g.start + int64(r.Float64()*float64(g.end-g.start))
			inc := incident{svc: s.idx, start: start, end: start + int64(r.between(3, 20)*float64(minute)),
				p5xx: r.between(0.15, 0.8), slow: r.between(1.5, 5)}
			g.incidents = append(g.incidents, inc)
			g.note(start, "incident", s.name, "outage for %v: %.0f%% server errors, %.1f× latency",
				time.Duration(inc.end-inc.start).Round(time.Second), 100*inc.p5xx, inc.slow)
		}
	}
	// A caller with a stale configuration is denied now and then.
	if callers := g.callers(); len(callers) > 0 {
		s := callers[r.IntN(len(callers))]
		e := s.edges[r.IntN(len(s.edges))]
		for _, ri := range w.services[e.to].business {
			if !w.allowed[[2]int{s.idx, ri}] {
				h := w.handlerFor(r, s)
				w.handlers[h] = append(w.handlers[h], step{route: ri, p: r.between(0.01, 0.05)})
				g.note(g.start, "stale_config", s.name, "calls %s %s on %s now and then; policy denies it",
					w.routes[ri].method, w.routes[ri].tmpl, w.services[e.to].name)
				break
			}
		}
	}
	// Old clients: a caller or two still GET a path a callee removed.
	if callers := g.callers(); len(callers) > 0 {
		for range r.intBetween(1, 2) {
			s := callers[r.IntN(len(callers))]
			e := s.edges[r.IntN(len(s.edges))]
			t := w.services[e.to]
			h := w.handlerFor(r, s)
			path := "/v0/" + t.arch.resources[0] + "/"
			w.handlers[h] = append(w.handlers[h], step{route: t.health, p: r.between(0.01, 0.08), legacy: path})
			g.note(g.start, "legacy_client", s.name, "GETs %s{id} on %s now and then, removed long ago: 404, no route", path, t.name)
		}
	}
	g.planNewRoute(r)
	g.planNewService(r)
}

// callers returns the services that call others, in index order.
func (g *gen) callers() []*service {
	var out []*service
	for _, s := range g.w.services {
		if len(s.edges) > 0 && s.tier <= tierLeaf && s.startAt == 0 {
			out = append(out, s)
		}
	}
	return out
}

// deploy schedules a rolling deploy of s from t: one instance after the
// other, on new pods (new nodes, addresses and credentials).
func (g *gen) deploy(r rng, s *service, t int64, why string) {
	for i := range s.replicas {
		g.schedule(action{t: t + int64(i)*int64(r.between(30, 90)*1e9), kind: actReplacePod, svc: s.idx, i: i, node: -1})
	}
	g.note(t, "deploy", s.name, "%s of %d instances", why, s.replicas)
}

// planNewRoute plans a legitimate change of API: a service deploys a new
// route (a v2 of a read, or a new sub-resource), and a while later its
// callers deploy and move to it; policy allows it from the start.
func (g *gen) planNewRoute(r rng) {
	w := g.w
	var cands []*service
	for _, s := range w.services {
		if s.tier != tierMid && s.tier != tierLeaf {
			continue
		}
		for _, c := range g.callers() {
			if slices.ContainsFunc(c.edges, func(e *edge) bool { return e.to == s.idx }) {
				cands = append(cands, s)
				break
			}
		}
	}
	if len(cands) == 0 {
		return
	}
	s := cands[r.IntN(len(cands))]
	t := g.weekdayAt(g.start+int64(float64(g.end-g.start)*r.between(0.45, 0.65)), r.between(13, 16))
	var old int = -1
	for _, ri := range s.business {
		if w.routes[ri].kind == kindGet {
			old = ri
			break
		}
	}
	rt := newRoute(r, s.idx, kindGet, s.arch.resources[0])
	if r.chance(0.5) && old >= 0 {
		rt = w.routes[old]
		rt.tmpl = "/v2" + rt.tmpl[len("/v1"):]
		rt.respMu += 0.2
	} else {
		rt.kind = kindSub
		rt.tmpl = "/v1/" + s.arch.resources[0] + "/{id}/timeline"
	}
	rt.split()
	rt.from = t
	ri := w.addRoute(rt)
	s.routes = append(s.routes, ri)
	s.business = append(s.business, ri)
	g.deploy(r, s, t, "deploy adding "+rt.method+" "+rt.tmpl)
	g.note(t, "route_added", s.name, "%s %s (policy allows it for its callers)", rt.method, rt.tmpl)
	// Its callers adopt it: each in a deploy of its own, 10 minutes to a
	// few hours later. A v2 replaces the v1 calls.
	for _, c := range g.callers() {
		if !slices.ContainsFunc(c.edges, func(e *edge) bool { return e.to == s.idx }) {
			continue
		}
		tc := t + int64(r.between(10, 180)*float64(minute))
		w.allowed[[2]int{c.idx, ri}] = true
		replaced := false
		for _, h := range c.business {
			hs := w.handlers[h]
			for i := range hs {
				if hs[i].route == old && hs[i].from <= tc && hs[i].until == 0 && rt.tmpl[:3] == "/v2" {
					st := hs[i]
					hs[i].until = tc
					st.route, st.from = ri, tc
					w.handlers[h] = append(w.handlers[h], st)
					replaced = true
				}
			}
		}
		if !replaced {
			h := w.handlerFor(r, c)
			w.handlers[h] = append(w.handlers[h], step{route: ri, p: r.between(0.3, 0.9), from: tc})
		}
		for _, e := range c.edges {
			if e.to == s.idx {
				e.routes = append(e.routes, ri)
				e.allowed = append(e.allowed, ri)
			}
		}
		g.deploy(r, c, tc, "deploy starting to call "+s.name+" "+rt.tmpl)
	}
}

// planNewService plans a service whose first day starts in the middle of
// the run: it calls a few existing services, and an existing service
// deploys and starts to call it.
func (g *gen) planNewService(r rng) {
	w := g.w
	t := g.weekdayAt(g.start+int64(float64(g.end-g.start)*r.between(0.35, 0.55)), r.between(9.5, 11))
	a := newServiceArchetypes[r.IntN(len(newServiceArchetypes))]
	s := w.addService(r, a, tierLeaf, t)
	for _, rt := range s.routes {
		w.routes[rt].from = t
	}
	// An existing service deploys and starts to call it; then it calls a
	// few leaf services of its own from its first minute.
	var mids []*service
	for _, o := range g.callers() {
		if o.tier == tierMid || o.tier == tierEntry {
			mids = append(mids, o)
		}
	}
	c := mids[r.IntN(len(mids))]
	tc := t + int64(r.between(30, 120)*float64(minute))
	w.connect(r, c, s, tc)
	var leaves []*service
	for _, o := range w.services {
		if o.tier == tierLeaf && o != s && o.startAt == 0 {
			leaves = append(leaves, o)
		}
	}
	r.Shuffle(len(leaves), func(i, j int) { leaves[i], leaves[j] = leaves[j], leaves[i] })
	for _, o := range leaves[:min(len(leaves), r.intBetween(2, 3))] {
		w.connect(r, s, o, t)
	}
	g.schedule(action{t: t, kind: actStartService, svc: s.idx, node: -1})
	g.note(t, "service_started", s.name, "first instances of a new service (%s)", s.id)
	g.deploy(r, c, tc, "deploy starting to call the new service "+s.name)
}

// weekdayAt returns the first weekday at or after t's day at hour h, on
// a minute: the world changes on minutes.
func (g *gen) weekdayAt(t int64, h float64) int64 {
	d := t - t%day
	for weekend(d) && d+day < g.end {
		d += day
	}
	t = min(d+int64(h*float64(hour)), g.end-hour)
	return t - t%minute
}
