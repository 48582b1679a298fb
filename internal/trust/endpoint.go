package trust

import (
	"fmt"
	"math"
)

// The endpoint detector keeps the routes a caller uses — each route being
// the target, the method and the route template (or the path with its
// identifier-like segments folded, see idLike) — in a Bloom filter of
// every route it ever used (512 bits: a few percent of new routes are
// missed once a caller has used over a hundred) and a table of its first
// 32 routes, which the sequence and per-call volume detectors index.
//
// After warm-up, each new route adds a weight to a novelty score that
// decays with a one-hour time constant: 1 for a route policy allows
// (answered without error), 2 for one whose allowance is unknown or that
// was answered 401, 403, 404 or 405, 3 for one policy denies.
// endpoint.new fires when the score reaches EndpointThreshold plus twice
// the caller's own hourly rate of new routes over the last week (so a
// caller that keeps discovering routes by design raises its own bar). A
// deploy that adds an allowed route or two does not fire; walking
// endpoints does, in a few requests.
type routeState struct {
	fp    [routeCap]uint32 // fingerprints of the first routes used
	mean  [routeCap]uint16 // per route: log2(bytes + 1) × 1024, exponentially weighted
	dev   [routeCap]uint16 // and its mean absolute deviation
	n     [routeCap]uint8  // calls learned per route (saturating)
	born  [routeCap]uint16 // hour the route was first used (hours since epoch, wrapping)
	used  uint8            // entries of fp in use
	_     [3]byte
	bloom [8]uint64 // every route used
	novel float32   // weighted new routes, decayed over an hour
	base  float32   // weighted new routes, decayed over a week
	at    uint32    // when novel and base were last decayed
	big   float32   // oversized responses, decayed over ten minutes
	bigAt uint32
}

// young reports whether route i of the table was first used less than a
// day before sec.
func (rt *routeState) young(i uint8, sec uint32) bool {
	return i < routeCap && uint16(sec/3600)-rt.born[i] < 24
}

const (
	routeCap   = 32              // routes indexed per caller
	routeOther = routeCap        // index of routes beyond the table
	hour       = 3600.0          // seconds
	week       = 7 * 24 * 3600.0 // seconds
)

// endpoints returns the index of the call's route in the caller's table
// (routeOther beyond it), learning it and checking novelty when new.
func (e *Engine) endpoints(o *obs) uint8 {
	rt := &o.cs.route
	f := fp(o.route)
	for i := uint8(0); i < rt.used; i++ {
		if rt.fp[i] == f {
			return i
		}
	}
	idx := uint8(routeOther)
	if rt.used < routeCap {
		idx = rt.used
		rt.fp[idx], rt.born[idx] = f, uint16(o.sec/3600)
		rt.used++
	}
	if bloomTest(rt.bloom[:], o.route) {
		return idx
	}
	bloomAdd(rt.bloom[:], o.route)
	w := float32(2)
	switch e.allowance(o.c) {
	case Allowed:
		if !o.c.refused() {
			w = 1
		}
	case Denied:
		w = 3
	}
	decayNovelty(&rt.novel, &rt.base, &rt.at, o.sec)
	rt.novel += w
	limit := float32(e.t.EndpointThreshold) + 2*hourlyRate(rt.base, o.cs.first, o.sec)
	rt.base += w
	if !o.warm || rt.novel < limit {
		return idx
	}
	sev := Medium
	if w >= 3 {
		sev = High
	}
	known, novel := rt.used, rt.novel
	e.raise(o, EndpointNew, sev, func() map[string]string {
		route := o.c.Route
		if route == "" {
			route = normalizePath(o.c.Path)
		}
		return map[string]string{
			"expected": fmt.Sprintf("routes this caller used (%d known; new-route score under %.1f an hour)", known, limit),
			"seen":     fmt.Sprintf("new route %s %s on %s (%s); new-route score %.1f", o.c.Method, route, o.c.Target, allowanceText(w), novel),
			"route":    o.c.Method + " " + route,
			"target":   o.c.Target,
		}
	})
	return idx
}

// allowanceText describes the weight of a new route or target.
func allowanceText(w float32) string {
	switch {
	case w <= 1:
		return "allowed by policy"
	case w >= 3:
		return "denied by policy"
	}
	return "not known to be allowed, or refused"
}

// hourlyRate returns a caller's hourly rate of novelty from its base (a
// sum decayed over a week), over the caller's life when shorter than a
// week: a caller that discovers routes by design on its first day has
// that rate from its second.
func hourlyRate(base float32, first, sec uint32) float32 {
	hours := min(max(float32(sec-first)/hour, 1), week/hour)
	return base / hours
}

// decayNovelty decays a novelty score (one-hour time constant) and its
// base (one week) to sec.
func decayNovelty(novel, base *float32, at *uint32, sec uint32) {
	if dt := float64(sec - *at); *at != 0 && dt > 0 {
		*novel *= float32(math.Exp(-dt / hour))
		*base *= float32(math.Exp(-dt / week))
	}
	*at = sec
}

// bloomTest reports whether h may be in the Bloom filter b (two bits
// from h's two halves).
func bloomTest(b []uint64, h uint64) bool {
	n := uint64(len(b) * 64)
	i, j := h%n, (h>>32)%n
	return b[i/64]&(1<<(i%64)) != 0 && b[j/64]&(1<<(j%64)) != 0
}

// bloomAdd adds h to the Bloom filter b.
func bloomAdd(b []uint64, h uint64) {
	n := uint64(len(b) * 64)
	i, j := h%n, (h>>32)%n
	b[i/64] |= 1 << (i % 64)
	b[j/64] |= 1 << (j % 64)
}
