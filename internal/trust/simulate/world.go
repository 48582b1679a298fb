package simulate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// credKind is how a service authenticates its calls, and so what the
// credential field of its calls holds.
type credKind uint8

const (
	credX509   credKind = iota // X509-SVID serial, rotated every hour
	credBearer                 // access token jti, refreshed every few minutes
	credDPoP                   // DPoP-bound access token jti
)

func (k credKind) String() string { return [...]string{"x509_svid", "bearer", "dpop"}[k] }

// service is one workload identity and what it does.
type service struct {
	idx      int
	name, id string // name and SPIFFE ID
	tier     tier
	arch     archetype
	routes   []int // its routes, indices into world.routes
	business []int // its routes others may call (not health, not admin)
	health   int
	edges    []*edge
	cred     credKind
	refresh  int64 // token refresh period (ns), for bearer and DPoP
	replicas int
	pods     []int32 // current instances, indices into world.pods
	startAt  int64   // first moment it runs (0: from the start)
	err5xx   float64 // base rate of server errors

	// Entry services: load at the busiest hour (requests/s before Rate) and
	// the weights of the routes outside callers hit.
	profile   profile
	peak      float64
	entryCum  []float64
	dayNoise  []float64
	hourNoise float64

	pollRoute  int   // -1: does not poll
	pollPeriod int64 // ns
	pollID     int64
	hasCron    bool
}

// edge is a caller→callee pair of the call graph: the routes the caller
// uses, and those policy lets it use.
type edge struct {
	from, to int
	routes   []int
	allowed  []int
}

// step is one downstream call a handler makes, in order.
type step struct {
	route       int
	p           float64 // probability the handler makes it
	loop        float64 // chance of each further repetition (N+1 fetches)
	from, until int64   // active in [from, until); 0 until: forever
	legacy      string  // if set, a path removed from the callee: GET it, 404, no route
}

// node is a machine running an agent: a stable /24 for its pods.
type node struct {
	id         string // the agent's SPIFFE ID
	net        uint32 // the /24, host part zero
	next       uint32 // next host number to hand out
	up, down   int64  // lifetime; down 0: still up
	candidates bool   // the scheduler may place pods on it
	v6         bool   // its pods have IPv6 addresses, a /64 per node
}

// pod is one instance of a service, or one run of a cron job.
type pod struct {
	svc  int32
	node int32
	ip   uint32
	born int64
	seed uint64
}

// world is the static part of the simulation and its mutable
// infrastructure (nodes, pods).
type world struct {
	td       string
	services []*service
	routes   []route
	handlers [][]step // by route index: what serving it calls
	allowed  map[[2]int]bool
	nodes    []node
	pods     []pod
	monitor  int
	nodeSeq  int
}

// allows reports whether policy lets service caller call route r: the
// edge's allowed routes, and any GET on a service open to the domain.
func (w *world) allows(caller, r int) bool {
	rt := &w.routes[r]
	if rt.kind == kindHealth && caller == w.monitor {
		return true
	}
	if w.allowed[[2]int{caller, r}] {
		return true
	}
	return w.services[rt.svc].arch.openRead && rt.method == "GET" && rt.kind != kindAdmin
}

// routeOdds are the chances that a resource has a route of each kind
// besides GET by ID.
var routeOdds = [...]struct {
	kind routeKind
	p    float64
}{
	{kindList, 0.8}, {kindCreate, 0.6}, {kindUpdate, 0.45}, {kindDelete, 0.25},
	{kindSub, 0.45}, {kindItem, 0.2}, {kindAction, 0.4}, {kindSearch, 0.2},
}

// addService appends a service of archetype a in tier t.
func (w *world) addService(r rng, a archetype, t tier, startAt int64) *service {
	s := &service{idx: len(w.services), name: a.name, tier: t, arch: a, startAt: startAt, pollRoute: -1, profile: a.profile}
	for _, o := range w.services {
		if o.name == s.name {
			s.name = a.name + "-" + strconv.Itoa(s.idx)
		}
	}
	s.id = "spiffe://" + w.td + "/" + s.name
	switch u := r.Float64(); {
	case t == tierMonitor || t == tierBatch || u < 0.55:
		s.cred = credX509
	case u < 0.88:
		s.cred = credBearer
	default:
		s.cred = credDPoP
	}
	s.refresh = int64(r.intBetween(180, 420)) * 1e9
	s.err5xx = r.between(0.0003, 0.003)
	switch t {
	case tierEntry:
		s.replicas = r.intBetween(3, 6)
	case tierMid, tierLeaf:
		s.replicas = r.intBetween(2, 5)
	case tierMonitor:
		s.replicas = 1
	}
	w.services = append(w.services, s)
	s.health = w.addRoute(newRoute(r, s.idx, kindHealth, ""))
	s.routes = append(s.routes, s.health)
	for _, res := range a.resources {
		kinds := []routeKind{kindGet}
		for _, o := range routeOdds {
			if r.chance(o.p) {
				kinds = append(kinds, o.kind)
			}
		}
		for _, k := range kinds {
			i := w.addRoute(newRoute(r, s.idx, k, res))
			s.routes = append(s.routes, i)
			s.business = append(s.business, i)
		}
	}
	for _, ap := range adminPaths {
		if r.chance(0.4) {
			s.routes = append(s.routes, w.addRoute(newAdminRoute(s.idx, ap.method, ap.tmpl)))
		}
	}
	return s
}

// addRoute appends rt, unless the service has that template already, and
// returns its index.
func (w *world) addRoute(rt route) int {
	for i, o := range w.routes {
		if o.svc == rt.svc && o.method == rt.method && o.tmpl == rt.tmpl {
			return i
		}
	}
	w.routes = append(w.routes, rt)
	w.handlers = append(w.handlers, nil)
	return len(w.routes) - 1
}

// routeOfKind returns a business route of s of kind k, adding one if s
// has none.
func (w *world) routeOfKind(r rng, s *service, k routeKind) int {
	for _, i := range s.business {
		if w.routes[i].kind == k {
			return i
		}
	}
	i := w.addRoute(newRoute(r, s.idx, k, s.arch.resources[0]))
	s.routes = append(s.routes, i)
	s.business = append(s.business, i)
	return i
}

// connect adds the edge from→to, with the routes from uses (reads most
// often) and those policy allows besides.
func (w *world) connect(r rng, from, to *service, at int64) *edge {
	for _, e := range from.edges {
		if e.to == to.idx {
			return e
		}
	}
	e := &edge{from: from.idx, to: to.idx}
	// Candidates in random order, reads ahead more often than not.
	cands := slices.Clone(to.business)
	keys := make(map[int]float64, len(cands))
	for _, c := range cands {
		keys[c] = r.Float64()
		if !w.routes[c].kind.reads() {
			keys[c] += 0.6
		}
	}
	slices.SortFunc(cands, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
	n := min(len(cands), 1+r.geometric(0.45))
	e.routes = cands[:n]
	for _, c := range cands {
		if slices.Contains(e.routes, c) || r.chance(0.35) {
			e.allowed = append(e.allowed, c)
			w.allowed[[2]int{from.idx, c}] = true
		}
	}
	from.edges = append(from.edges, e)
	// Each used route becomes a step of one or two of the caller's
	// handlers (for an entry service, of the routes outsiders call).
	for _, rt := range e.routes {
		for range 1 + r.geometric(0.7) {
			h := w.handlerFor(r, from)
			st := step{route: rt, p: r.between(0.35, 1), from: at}
			if r.chance(0.45) {
				st.p = 1
			}
			if w.routes[rt].kind == kindGet && r.chance(0.25) {
				st.loop = r.between(0.3, 0.7)
			}
			hs := w.handlers[h]
			pos := r.IntN(len(hs) + 1)
			w.handlers[h] = slices.Insert(hs, pos, st)
		}
	}
	return e
}

// handlerFor returns a route of s whose handler runs: one its callers
// call, or for an entry service (or one nobody calls yet) any of its
// business routes.
func (w *world) handlerFor(r rng, s *service) int {
	var called []int
	if s.tier != tierEntry {
		for _, o := range w.services {
			for _, e := range o.edges {
				if e.to == s.idx {
					called = append(called, e.routes...)
				}
			}
		}
	}
	if len(called) == 0 {
		return s.business[r.IntN(len(s.business))]
	}
	return called[r.IntN(len(called))]
}

// build creates the world of cfg: services in tiers, the call graph,
// nodes and the first pods.
func build(cfg Config, r rng, start int64) *world {
	w := &world{td: cfg.TrustDomain, allowed: map[[2]int]bool{}}
	n := cfg.Services
	nEntry := max(1, int(math.Round(float64(n)*0.1)))
	nBatch := min(len(batchArchetypes), 2+n/15)
	nRest := n - 1 - nEntry - nBatch
	nMid := nRest * 9 / 20
	nLeaf := nRest - nMid

	take := func(pool []archetype, k int) []archetype {
		p := slices.Clone(pool)
		r.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
		out := make([]archetype, k)
		for i := range out {
			out[i] = p[i%len(p)]
		}
		return out
	}
	// Entry services in catalogue order (the first is the busiest), others
	// shuffled.
	for i := range nEntry {
		s := w.addService(r, entryArchetypes[i%len(entryArchetypes)], tierEntry, 0)
		s.peak = 1 / float64(i+1)
	}
	for _, a := range take(midArchetypes, nMid) {
		w.addService(r, a, tierMid, 0)
	}
	for _, a := range take(leafArchetypes, nLeaf) {
		w.addService(r, a, tierLeaf, 0)
	}
	for _, a := range batchArchetypes[:nBatch] {
		s := w.addService(r, a, tierBatch, 0)
		s.hasCron = true
	}
	w.monitor = w.addService(r, monitorArchetype, tierMonitor, 0).idx

	// The call graph is a DAG in service order: entry → mid → leaf, a mid
	// service may call later mid services, a leaf service a later leaf one.
	// Callees are drawn with preferential attachment (users, config and
	// the like are called by many).
	indeg := make([]float64, len(w.services))
	pickCallee := func(from *service, lo, hi int) *service {
		if lo >= hi {
			return nil
		}
		wts := make([]float64, hi-lo)
		for i := range wts {
			wts[i] = 1 + indeg[lo+i]
			for _, e := range from.edges {
				if e.to == lo+i {
					wts[i] = 0
				}
			}
		}
		if slices.Max(wts) == 0 {
			return nil
		}
		c := w.services[lo+r.pick(cumulative(wts))]
		indeg[c.idx]++
		return c
	}
	firstMid, firstLeaf, firstBatch := nEntry, nEntry+nMid, nEntry+nMid+nLeaf
	for _, s := range w.services[:firstBatch] {
		// A service nobody calls yet gets a caller among the entry and mid
		// services before it, so that its own handlers run.
		if s.tier != tierEntry && indeg[s.idx] == 0 {
			c := w.services[r.IntN(min(s.idx, firstLeaf))]
			indeg[s.idx]++
			w.connect(r, c, s, 0)
		}
		var k int
		lo, hi := firstMid, firstBatch
		switch s.tier {
		case tierEntry:
			k = r.intBetween(3, 7)
		case tierMid:
			k, lo = r.intBetween(1, 4), s.idx+1
		case tierLeaf:
			if r.chance(0.45) {
				k = 1
			}
			lo = s.idx + 1
		}
		for range k {
			if c := pickCallee(s, lo, hi); c != nil {
				w.connect(r, s, c, 0)
			}
		}
	}
	// Outside traffic spreads over an entry service's routes that call
	// something.
	for _, s := range w.services[:nEntry] {
		wts := make([]float64, len(s.business))
		z := zipfWeights(len(wts), 1.1)
		for i, rt := range s.business {
			if len(w.handlers[rt]) > 0 {
				wts[i] = z[i]
			}
		}
		s.entryCum = cumulative(wts)
	}

	// Pollers: some services read their configuration every 15–60 s.
	for _, s := range w.services[firstMid:firstBatch] {
		for _, t := range w.services[firstMid:firstBatch] {
			if (t.name == "config" || t.name == "feature-flags") && t != s && r.chance(0.25) {
				s.pollRoute = w.routeOfKind(r, t, kindGet)
				s.pollPeriod = []int64{30e9, 60e9, 120e9}[r.IntN(3)]
				s.pollID = int64(s.idx*37 + 1000)
				break
			}
		}
	}

	// Nodes: enough for six pods each, each with its /24.
	pods := 0
	for _, s := range w.services {
		pods += s.replicas
	}
	for range max(4, (pods+5)/6+2) {
		w.addNode(start)
	}
	for _, s := range w.services {
		if s.startAt == 0 {
			for range s.replicas {
				s.pods = append(s.pods, w.newPod(r, s.idx, start))
			}
		}
	}
	return w
}

// addNode brings up a new node with a fresh /24 and returns its index.
func (w *world) addNode(t int64) int {
	w.nodeSeq++
	seq := w.nodeSeq
	w.nodes = append(w.nodes, node{
		id:  fmt.Sprintf("spiffe://%s/kith/agent/node-%02d", w.td, seq),
		net: 10<<24 | uint32(16+seq/250)<<16 | uint32(seq%250)<<8,
		// Hosts .2 to .254 are handed out round-robin. One node in five is
		// in an IPv6 pool.
		next: 2, up: t, candidates: true, v6: seq%5 == 0,
	})
	return len(w.nodes) - 1
}

// newPod schedules a pod of service svc on a random node at time t and
// returns its index.
func (w *world) newPod(r rng, svc int, t int64) int32 {
	var up []int
	for i, n := range w.nodes {
		if n.candidates {
			up = append(up, i)
		}
	}
	ni := up[r.IntN(len(up))]
	return w.podOn(r, svc, ni, t)
}

// podOn starts a pod of service svc on node ni at time t.
func (w *world) podOn(r rng, svc, ni int, t int64) int32 {
	n := &w.nodes[ni]
	ip := n.net | n.next
	n.next++
	if n.next > 254 {
		n.next = 2
	}
	w.pods = append(w.pods, pod{svc: int32(svc), node: int32(ni), ip: ip, born: t, seed: r.Uint64()})
	return int32(len(w.pods) - 1)
}
