package simulate

import (
	"math"
	"time"
)

// cronJob is a batch job of a batch service: runs at fixed times that
// page through other services' lists at a high rate, each run from a new
// pod (a new address, often a new node, a new credential).
type cronJob struct {
	svc      int
	every    int64 // period: 15 min, an hour, a day, a week
	base     int64 // periods are counted from here (a Monday 00:00 for weeks)
	offset   int64 // start within the period
	dur      float64
	rate     float64 // calls/s at Rate 1
	routes   []int
	pageSize int64
	growth   float64 // duration grows by this factor a day (more data)

	run   int64 // current run number, -1 none
	pod   int32
	pages []int64
}

// planCron gives each batch service its job.
func (g *gen) planCron(r rng) {
	w := g.w
	var targets []*service
	for _, s := range w.services {
		if (s.tier == tierMid || s.tier == tierLeaf) && s.startAt == 0 {
			targets = append(targets, s)
		}
	}
	pickRoutes := func(n int, kind routeKind) []int {
		var out []int
		for _, i := range r.Perm(len(targets))[:min(n, len(targets))] {
			out = append(out, w.routeOfKind(r, targets[i], kind))
		}
		return out
	}
	monday := int64(4) * day // 1970-01-05 was a Monday
	for _, s := range w.services {
		if s.tier != tierBatch {
			continue
		}
		j := &cronJob{svc: s.idx, run: -1, growth: 1 + r.between(0, 0.03)}
		var what string
		switch s.arch.name {
		case "reporting":
			j.every, j.offset = day, 2*hour+int64(r.IntN(20))*minute
			j.dur, j.rate = r.between(15, 40)*float64(minute), r.between(8, 20)
			j.routes, j.pageSize = pickRoutes(r.intBetween(2, 3), kindList), []int64{500, 1000}[r.IntN(2)]
			what = "nightly export"
		case "search-indexer":
			j.every, j.offset = 15*minute, int64(r.IntN(5))*minute
			j.dur, j.rate = r.between(40, 120)*1e9, r.between(0.7, 2)
			j.routes, j.pageSize = pickRoutes(r.intBetween(1, 2), kindList), []int64{100, 200}[r.IntN(2)]
			what = "incremental index every 15 minutes"
		case "invoice-runner":
			j.every, j.offset = hour, 5*minute
			j.dur, j.rate = r.between(1, 4)*float64(minute), r.between(3, 8)
			j.routes = append(pickRoutes(1, kindList), pickRoutes(1, kindCreate)...)
			j.pageSize = 100
			what = "hourly invoice run"
		default:
			j.every, j.base, j.offset = 7*day, monday, 6*day+3*hour+30*minute
			j.dur, j.rate = r.between(60, 120)*float64(minute), r.between(5, 12)
			j.routes, j.pageSize = pickRoutes(r.intBetween(2, 4), kindList), 1000
			what = "weekly rollup, Sundays"
		}
		for _, ri := range j.routes {
			w.allowed[[2]int{s.idx, ri}] = true
		}
		j.pages = make([]int64, len(j.routes))
		g.crons = append(g.crons, j)
		first := j.base + ((g.start-j.base)/j.every)*j.every + j.offset
		if first < g.start {
			first += j.every
		}
		g.note(first, "cron", s.name, "%s: every %v at +%v, about %v at %.0f calls/s (first run shown)",
			what, time.Duration(j.every), time.Duration(j.offset), time.Duration(j.dur).Round(time.Second), j.rate*g.cfg.Rate)
	}
}

// runBounds returns the start and end of run k of j.
func (j *cronJob) runBounds(k, start int64) (int64, int64) {
	jitter := int64(mix64(uint64(k)^uint64(j.svc)<<32) % uint64(60e9))
	s := j.base + k*j.every + j.offset + jitter
	days := float64(s-start) / float64(day)
	d := j.dur * (0.8 + 0.4*float64(mix64(uint64(k)+7)%1000)/1000) * math.Pow(j.growth, max(days, 0))
	return s, s + int64(d)
}

// cronTraffic generates the calls of the runs under way in [w0, w1).
func (g *gen) cronTraffic(w0, w1 int64) {
	for _, j := range g.crons {
		k := (w0 - j.base - j.offset) / j.every
		for _, k := range []int64{k - 1, k} {
			rs, re := j.runBounds(k, g.start)
			lo, hi := max(rs, w0), min(re, w1)
			if lo >= hi {
				continue
			}
			if j.run != k {
				j.run = k
				j.pod = g.w.newPod(g.r, j.svc, lo)
				clear(j.pages)
			}
			n := g.r.poisson(j.rate * g.cfg.Rate * float64(hi-lo) / 1e9)
			for range n {
				i := g.r.IntN(len(j.routes))
				ri := j.routes[i]
				rt := &g.w.routes[ri]
				j.pages[i]++
				e := event{t: lo + int64(g.r.Float64()*float64(hi-lo)), caller: int32(j.svc), pod: j.pod, route: int32(ri)}
				if rt.kind == kindList {
					e.id, e.id2 = j.pages[i], j.pageSize
				} else {
					e.id = rt.drawID(g.r)
				}
				g.outcome(g.r, &e, rt, j.svc, false)
				g.emit(e)
			}
		}
	}
}

// calibrate sets the entry load so that the run has about 14,000 calls
// per service and day at Rate 1, counting the periodic and batch calls.
func (g *gen) calibrate() {
	w := g.w
	memo := make([]float64, len(w.routes))
	done := make([]bool, len(w.routes))
	var expect func(ri, depth int) float64
	expect = func(ri, depth int) float64 {
		if done[ri] || depth > maxDepth {
			return memo[ri]
		}
		s := 0.0
		for _, st := range w.handlers[ri] {
			if st.from == 0 {
				s += st.p / (1 - st.loop) * (1 + expect(st.route, depth+1))
			}
		}
		memo[ri], done[ri] = s, true
		return s
	}
	days := float64(g.cfg.Days)
	secs := days * 86400
	periodic := 0.0
	for _, s := range w.services {
		if s.tier == tierMonitor {
			continue
		}
		periodic += 1440 * days
		if s.pollRoute >= 0 {
			periodic += float64(s.replicas) * secs / (float64(s.pollPeriod) / 1e9)
		}
	}
	batch := 0.0
	for _, j := range g.crons {
		batch += secs / (float64(j.every) / 1e9) * j.dur / 1e9 * j.rate
	}
	target := 14000 * float64(g.cfg.Services) * days
	entry := max(target-periodic-batch, 0.3*target) * g.cfg.Rate
	perScale := 0.0
	for _, s := range w.services {
		if s.tier != tierEntry {
			continue
		}
		e := 0.0
		for i, ri := range s.business {
			p := s.entryCum[i]
			if i > 0 {
				p -= s.entryCum[i-1]
			}
			e += p / s.entryCum[len(s.entryCum)-1] * (1 + expect(ri, 0))
		}
		perScale += s.peak * s.profile.meanLoad() * (e - 1) * secs
	}
	if perScale > 0 { // always: every entry service calls something
		g.entryScale = entry / perScale
	}
}
