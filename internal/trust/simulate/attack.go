package simulate

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// attack is one injected attack: planned before the run, generated minute
// by minute while it lasts, from its own random stream (so the benign
// traffic is the same with or without it).
type attack struct {
	scenario   string
	victim     int
	start, end int64 // planned bounds; calls fall inside
	r          rng
	lenient    bool       // the second choice of victims: take what suits less well
	hours      [2]float64 // if set, the attack starts between these hours of a day
	// step generates the attack's calls in [w0, w1); it is set up by the
	// scenario's plan function and may keep state.
	step func(g *gen, w0, w1 int64)

	first, last int64 // first and last call
	calls       int
	credential  string
	description string
}

// label returns the label of a, from its first call to its last, in the
// milliseconds the calls' times are written in.
func (a *attack) label(w *world) Label {
	return Label{Scenario: a.scenario, Identity: w.services[a.victim].id, Credential: a.credential,
		Start: time.UnixMilli(a.first / 1e6).UTC(), End: time.UnixMilli(a.last / 1e6).UTC(), Description: a.description}
}

// window generates a's calls in [w0, w1).
func (a *attack) window(g *gen, w0, w1 int64) { a.step(g, max(w0, a.start), min(w1, a.end)) }

// emit adds one call of a: e with a's victim as caller.
func (g *gen) attackEmit(a *attack, e event) {
	if e.t < a.start || e.t >= a.end {
		return
	}
	e.caller = int32(a.victim)
	if a.calls == 0 || e.t < a.first {
		a.first = e.t
	}
	a.last = max(a.last, e.t)
	a.calls++
	g.emit(e)
}

// planner sets up one scenario on a victim: its parameters, its duration
// (returned) and its step function.
type planner func(g *gen, a *attack) time.Duration

// plannerOf returns the plan function of scenario sc. Each one draws the
// attack's parameters from a.r, returns how long it may last (0 if the
// victim does not suit it), and sets a.step, which sets itself up on its
// first call from the state of the world at that time (the victim's pods,
// the routes it has used, its busiest hour and minute).
func plannerOf(sc string) planner {
	switch sc {
	case ScenarioTokenReplay:
		return planTokenReplay
	case ScenarioEnumeration:
		return planEnumeration
	case ScenarioLowAndSlow:
		return planLowAndSlow
	case ScenarioExfiltration:
		return planExfiltration
	case ScenarioLateralFanout:
		return planLateralFanout
	case ScenarioSequenceAbuse:
		return planSequenceAbuse
	case ScenarioTwoHosts:
		return planTwoHosts
	default:
		return planRateSpike
	}
}

// planAttacks picks a victim and a time for each scenario of the config:
// a different caller each (while there are enough), after the warm-up,
// early enough to end before the run does.
func (g *gen) planAttacks(r rng) {
	callers := g.callers()
	r.Shuffle(len(callers), func(i, j int) { callers[i], callers[j] = callers[j], callers[i] })
	used := map[int][][2]int64{}
	lo := g.start + int64(g.cfg.WarmUp)
	for i, sc := range g.cfg.Scenarios {
		a := &attack{scenario: sc, r: newRNG(g.cfg.Seed, 100+uint64(i))}
		// The victim: the least used caller, in shuffled order; the
		// scenario may refuse a caller it cannot use.
		slices.SortStableFunc(callers, func(x, y *service) int { return len(used[x.idx]) - len(used[y.idx]) })
		var d time.Duration
		for _, a.lenient = range []bool{false, true} {
			for _, c := range callers {
				a.victim = c.idx
				if d = plannerOf(sc)(g, a); d > 0 {
					break
				}
			}
			if d > 0 {
				break
			}
		}
		if d <= 0 {
			continue
		}
		// The time: anywhere after the warm-up, on a different hour from
		// other attacks on the same caller.
		hi := g.end - int64(d) - 30*minute
		for try := 0; try < 100; try++ {
			a.start = lo + int64(r.Float64()*float64(max(hi-lo, 1)))
			if a.hours[1] > 0 {
				dayStart := a.start - a.start%day
				a.start = dayStart + int64(r.between(a.hours[0], a.hours[1])*float64(hour))
				if a.start < lo || a.start > hi {
					continue
				}
			}
			a.end = a.start + int64(d)
			if !slices.ContainsFunc(used[a.victim], func(w [2]int64) bool { return a.start < w[1]+2*hour && a.end > w[0]-2*hour }) {
				break
			}
		}
		used[a.victim] = append(used[a.victim], [2]int64{a.start, a.end})
		g.attacks = append(g.attacks, a)
	}
}

// usageOf returns the routes caller has used so far and their cumulative
// counts; before it has used any, the routes of its edges, evenly.
func (g *gen) usageOf(caller int, keep func(*route) bool) ([]int, []float64) {
	var routes []int
	var w []float64
	for ri, n := range g.usage[caller] {
		if n > 0 && (keep == nil || keep(&g.w.routes[ri])) {
			routes, w = append(routes, ri), append(w, float64(n))
		}
	}
	if len(routes) == 0 {
		for _, e := range g.w.services[caller].edges {
			for _, ri := range e.routes {
				if keep == nil || keep(&g.w.routes[ri]) {
					routes, w = append(routes, ri), append(w, 1)
				}
			}
		}
	}
	if len(routes) == 0 {
		return nil, nil
	}
	return routes, cumulative(w)
}

// podAt returns one of svc's current instances.
func (g *gen) podAt(r rng, svc int) int32 {
	s := g.w.services[svc]
	return s.pods[r.IntN(len(s.pods))]
}

// strangeNode returns a node up now that the victim has never run on, and
// an address in its /24 that no pod has; false if there is none.
func (g *gen) strangeNode(r rng, victim int) (int, uint32, bool) {
	w := g.w
	used := make([]bool, len(w.nodes))
	for _, p := range w.pods {
		if int(p.svc) == victim {
			used[p.node] = true
		}
	}
	var cands []int
	for i, n := range w.nodes {
		if n.down == 0 && !used[i] {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return 0, 0, false
	}
	ni := cands[r.IntN(len(cands))]
	return ni, w.nodes[ni].net | uint32(r.intBetween(200, 254)), true
}

// rogueNode returns the ID of a node that joined with a stolen join token
// and an address in a /24 no node of the cluster has.
func (g *gen) rogueNode(r rng) (string, uint32) {
	return fmt.Sprintf("spiffe://%s/kith/agent/node-%02d", g.w.td, 90+r.IntN(10)),
		10<<24 | 31<<16 | uint32(r.IntN(256))<<8 | uint32(r.intBetween(2, 254))
}

// foreignAddress returns an address outside the cluster's 10.16.0.0/12:
// another private range, or a public one.
func foreignAddress(r rng) uint32 {
	switch r.IntN(4) {
	case 0:
		return 172<<24 | uint32(16+r.IntN(16))<<16 | uint32(r.IntN(256))<<8 | uint32(r.intBetween(2, 254))
	case 1:
		return 192<<24 | 168<<16 | uint32(r.IntN(256))<<8 | uint32(r.intBetween(2, 254))
	case 2:
		return 10<<24 | uint32(100+r.IntN(100))<<16 | uint32(r.IntN(256))<<8 | uint32(r.intBetween(2, 254))
	default:
		return uint32(r.intBetween(20, 220))<<24 | uint32(r.IntN(256))<<16 | uint32(r.IntN(256))<<8 | uint32(r.intBetween(2, 254))
	}
}

// podAddr formats the address of pod p for a description.
func (w *world) podAddr(p int32) string {
	return addrText(w.pods[p].ip, w.nodes[w.pods[p].node].v6)
}

// paced returns a step that calls f at times spaced by gap(), from the
// attack's start, until f returns false or the attack ends.
func paced(a *attack, gap func() int64, f func(g *gen, t int64) bool) func(g *gen, w0, w1 int64) {
	next, done := int64(0), false
	return func(g *gen, w0, w1 int64) {
		if next == 0 {
			next = a.start
		}
		for ; !done && next < w1; next += max(gap(), 1e6) {
			if next >= w0 && !f(g, next) {
				done = true
			}
		}
	}
}

// poissonStep returns a step that calls f at Poisson times of rate
// perSec(t) per second.
func poissonStep(a *attack, perSec func(t int64) float64, f func(g *gen, t int64)) func(g *gen, w0, w1 int64) {
	return func(g *gen, w0, w1 int64) {
		if w1 <= w0 {
			return
		}
		for range a.r.poisson(perSec(w0) * float64(w1-w0) / 1e9) {
			f(g, w0+int64(a.r.Float64()*float64(w1-w0)))
		}
	}
}

// expGap returns exponential gaps of mean mean (ns).
func expGap(r rng, mean float64) func() int64 {
	return func() int64 { return int64(r.ExpFloat64() * mean) }
}

// minutes returns a duration of x minutes.
func minutes(x float64) time.Duration { return time.Duration(x * float64(time.Minute)) }

// normalCall returns the event of a call by the victim's pod p to route ri
// at t, with the outcome a benign call would have (denied if policy does
// not allow it).
func (g *gen) normalCall(a *attack, p int32, ri int, t int64) event {
	id, id2 := g.params(a.r, &g.w.routes[ri])
	return g.callWith(a, p, ri, t, id, id2)
}

// callWith is normalCall with the path parameters given.
func (g *gen) callWith(a *attack, p int32, ri int, t int64, id, id2 int64) event {
	rt := &g.w.routes[ri]
	e := event{t: t, caller: int32(a.victim), pod: p, route: int32(ri), id: id, id2: id2}
	g.outcome(a.r, &e, rt, a.victim, !g.w.allows(a.victim, ri))
	return e
}

// describe sets a's description.
func (a *attack) describe(format string, args ...any) { a.description = fmt.Sprintf(format, args...) }

// busiestPerSec returns the victim's calls per second in its busiest hour
// so far, at least 1 a minute.
func (g *gen) busiestPerSec(svc int) float64 { return math.Max(float64(g.busiest[svc])/3600, 1.0/60) }
