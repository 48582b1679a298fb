package simulate

import (
	"bufio"
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

const (
	minute = int64(time.Minute)
	hour   = int64(time.Hour)
	day    = 24 * hour
)

// Event is a benign change in the simulated world that a detector should
// take in its stride; [Summary] lists them so that a reader of an
// evaluation can tell a false alarm's cause.
type Event struct {
	Time    time.Time `json:"ts"`
	Kind    string    `json:"kind"` // deploy, route_added, service_started, node_replaced, incident, cron
	Service string    `json:"service,omitempty"`
	Detail  string    `json:"detail"`
}

// Summary is what [Run] wrote.
type Summary struct {
	Calls    int64     `json:"calls"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Services int       `json:"services"`
	Labels   []Label   `json:"labels"`
	Events   []Event   `json:"events"`
}

// gen is one run of the generator.
type gen struct {
	cfg        Config
	w          *world
	r          rng // traffic
	start, end int64
	entryScale float64

	buf       []event
	ovr       []override
	seq       uint32
	acts      actions
	crons     []*cronJob
	incidents []incident
	attacks   []*attack
	events    []Event

	// Calls per caller in the current hour, and the busiest hour so far.
	usage      [][]int32 // calls per caller and route so far
	hourOf     []int64
	hourCount  []int
	busiest    []int
	minOf      []int64
	minCount   []int
	busiestM   []int // busiest minute
	lastPod    []int32
	lastTarget []int32

	out   *bufio.Writer
	line  []byte
	tt    timeText
	calls int64
}

// Run generates the traffic and attacks cfg describes, writes the calls to
// cfg.Calls and then the labels to cfg.Labels, and returns what it wrote.
// It returns an error wrapping [ErrConfig] for an invalid cfg, the first
// write error, or ctx's error if ctx ends first.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := newGen(cfg)
	if err := g.run(ctx); err != nil {
		return nil, err
	}
	labels := make([]Label, 0, len(g.attacks))
	for _, a := range g.attacks {
		if a.calls > 0 {
			labels = append(labels, a.label(g.w))
		}
	}
	enc := json.NewEncoder(cfg.Labels)
	for _, l := range labels {
		if err := enc.Encode(l); err != nil {
			return nil, fmt.Errorf("write labels: %w", err)
		}
	}
	slices.SortStableFunc(g.events, func(a, b Event) int { return a.Time.Compare(b.Time) })
	return &Summary{
		Calls: g.calls, Start: cfg.Start, End: time.Unix(0, g.end).UTC(),
		Services: len(g.w.services), Labels: labels, Events: g.events,
	}, nil
}

// newGen builds the world of cfg and plans its changes and attacks.
func newGen(cfg Config) *gen {
	start := cfg.Start.UnixNano()
	g := &gen{
		cfg: cfg, start: start, end: start + int64(cfg.Days)*day,
		r:   newRNG(cfg.Seed, 2),
		out: bufio.NewWriterSize(cfg.Calls, 1<<18),
	}
	g.w = build(cfg, newRNG(cfg.Seed, 1), start)
	plan := newRNG(cfg.Seed, 3)
	g.planWorld(plan)
	g.planCron(plan)
	g.calibrate()
	g.planAttacks(newRNG(cfg.Seed, 4))
	n := len(g.w.services)
	g.hourOf, g.hourCount, g.busiest = make([]int64, n), make([]int, n), make([]int, n)
	g.minOf, g.minCount, g.busiestM = make([]int64, n), make([]int, n), make([]int, n)
	g.lastPod, g.lastTarget = make([]int32, n), make([]int32, n)
	g.usage = make([][]int32, n)
	for i := range g.usage {
		g.usage[i] = make([]int32, len(g.w.routes))
	}
	return g
}

// run is the main loop: one simulated minute at a time, the world's
// changes, then every source of calls, then the minute's calls in order.
func (g *gen) run(ctx context.Context) error {
	for w0 := g.start; w0 < g.end; w0 += minute {
		if err := ctx.Err(); err != nil {
			return err
		}
		w1 := w0 + minute
		g.applyActions(w0, w1)
		if (w0-g.start)%hour == 0 {
			g.newHour()
		}
		g.movePods(w0)
		g.entryTraffic(w0, w1)
		g.periodic(w0, w1)
		g.cronTraffic(w0, w1)
		for _, a := range g.attacks {
			if a.start < w1 && a.end > w0 {
				a.window(g, w0, w1)
			}
		}
		if err := g.flush(w1); err != nil {
			return err
		}
	}
	if err := g.flush(g.end); err != nil {
		return err
	}
	if err := g.out.Flush(); err != nil {
		return fmt.Errorf("write calls: %w", err)
	}
	return nil
}

// emit appends e to the pending calls and returns its index.
func (g *gen) emit(e event) int {
	g.seq++
	e.seq = g.seq
	g.buf = append(g.buf, e)
	return len(g.buf) - 1
}

// addOverride stores o for an attack's event and returns its reference.
func (g *gen) addOverride(o override) int32 {
	g.ovr = append(g.ovr, o)
	return int32(len(g.ovr))
}

// flush writes the pending calls before until, in time order, and keeps
// the later ones.
func (g *gen) flush(until int64) error {
	slices.SortFunc(g.buf, func(a, b event) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	n, _ := slices.BinarySearchFunc(g.buf, until, func(e event, t int64) int { return cmp.Compare(e.t, t) })
	for i := range n {
		e := &g.buf[i]
		if e.t < g.start {
			continue
		}
		g.line = g.appendEvent(g.line[:0], e)
		if _, err := g.out.Write(g.line); err != nil {
			return fmt.Errorf("write calls: %w", err)
		}
		g.calls++
		g.count(e)
	}
	if until >= g.end {
		n = len(g.buf) // calls after the end are dropped
	}
	g.buf = append(g.buf[:0], g.buf[n:]...)
	if len(g.buf) == 0 {
		g.ovr = g.ovr[:0] // no pending call refers to an override
	}
	return nil
}

// count tracks what attacks are scaled to: each caller's routes, busiest
// hour and busiest minute.
func (g *gen) count(e *event) {
	h := e.t / hour
	c := e.caller
	if g.hourOf[c] != h {
		g.hourOf[c], g.hourCount[c] = h, 0
	}
	g.hourCount[c]++
	g.usage[c][e.route]++
	g.lastPod[c], g.lastTarget[c] = e.pod, int32(g.w.routes[e.route].svc)
	g.busiest[c] = max(g.busiest[c], g.hourCount[c])
	if m := e.t / minute; g.minOf[c] != m {
		g.minOf[c], g.minCount[c] = m, 0
	}
	g.minCount[c]++
	g.busiestM[c] = max(g.busiestM[c], g.minCount[c])
}

// weekend reports whether t (unix ns) falls on a Saturday or Sunday, UTC.
func weekend(t int64) bool {
	wd := (t/day + 4) % 7 // 1970-01-01 was a Thursday
	return wd == 0 || wd == 6
}

// hourOfDay returns t's hour of the day, UTC, as a fraction.
func hourOfDay(t int64) float64 { return float64(t%day) / float64(hour) }

// newHour moves the entry services' slow random walk of load.
func (g *gen) newHour() {
	for _, s := range g.w.services {
		if s.tier == tierEntry {
			s.hourNoise = 0.8*s.hourNoise + 0.07*g.r.NormFloat64()
		}
	}
}

// entryTraffic generates the requests from outside the mesh that the
// entry services serve, and the calls they cascade into.
func (g *gen) entryTraffic(w0, w1 int64) {
	d := int((w0 - g.start) / day)
	h := hourOfDay(w0)
	we := weekend(w0)
	for _, s := range g.w.services {
		if s.tier != tierEntry {
			continue
		}
		lambda := s.peak * g.entryScale * s.profile.load(h, we) * s.dayNoise[d] * math.Exp(s.hourNoise)
		for range g.r.poisson(lambda * float64(w1-w0) / 1e9) {
			t := w0 + int64(g.r.Float64()*float64(w1-w0))
			g.serve(s.idx, s.business[g.r.pick(s.entryCum)], t, 0)
		}
	}
}

// movePods reschedules the odd pod (an eviction, a failed node check):
// each pod about once every three days.
func (g *gen) movePods(t int64) {
	const p = 1.0 / (3 * 24 * 60)
	for _, s := range g.w.services {
		for i := range s.pods {
			if g.r.chance(p) {
				s.pods[i] = g.w.newPod(g.r, s.idx, t)
			}
		}
	}
}

// actionKind is a scheduled change of the world.
type actionKind uint8

const (
	actReplacePod   actionKind = iota // a step of a rolling deploy
	actReplaceNode                    // drain a node and bring up a new one
	actStartService                   // a new service's first instances
)

// action is a change of the world at a time.
type action struct {
	t    int64
	kind actionKind
	svc  int
	i    int
	node int // actReplacePod: only if the pod is still on this node (-1: any)
}

// actions is a min-heap of actions by time.
type actions []action

func (a actions) Len() int { return len(a) }
func (a actions) Less(i, j int) bool {
	if a[i].t != a[j].t {
		return a[i].t < a[j].t
	}
	return a[i].svc < a[j].svc || a[i].svc == a[j].svc && a[i].i < a[j].i
}
func (a actions) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *actions) Push(x any)   { *a = append(*a, x.(action)) }
func (a *actions) Pop() any {
	old := *a
	x := old[len(old)-1]
	*a = old[:len(old)-1]
	return x
}

// schedule adds an action.
func (g *gen) schedule(a action) { heap.Push(&g.acts, a) }

// applyActions applies the actions due before w1, at w0: the world
// changes on minute boundaries.
func (g *gen) applyActions(w0, w1 int64) {
	w := g.w
	for len(g.acts) > 0 && g.acts[0].t < w1 {
		a := heap.Pop(&g.acts).(action)
		s := w.services[a.svc]
		switch a.kind {
		case actReplacePod:
			if a.i < len(s.pods) && (a.node < 0 || int(w.pods[s.pods[a.i]].node) == a.node) {
				s.pods[a.i] = w.newPod(g.r, s.idx, w0)
			}
		case actStartService:
			for range s.replicas {
				s.pods = append(s.pods, w.newPod(g.r, s.idx, w0))
			}
		case actReplaceNode:
			// The oldest node still up is drained; its pods move over the
			// next minutes; a new node with a new /24 joins.
			old := -1
			for i, n := range w.nodes {
				if n.candidates && n.down == 0 {
					old = i
					break
				}
			}
			w.nodes[old].candidates = false
			w.nodes[old].down = w0 + 15*minute
			ni := w.addNode(w0)
			g.events = append(g.events, Event{Time: time.Unix(0, w0).UTC(), Kind: "node_replaced",
				Detail: fmt.Sprintf("%s drained, %s joins with a new /24", w.nodes[old].id, w.nodes[ni].id)})
			for _, o := range w.services {
				for i, p := range o.pods {
					if int(w.pods[p].node) == old {
						g.schedule(action{t: w0 + int64(g.r.intBetween(1, 10))*minute, kind: actReplacePod, svc: o.idx, i: i, node: old})
					}
				}
			}
		}
	}
}
