package trust

import (
	"fmt"
	"math"
	"math/bits"
)

// The sequence detector is a first-order Markov model of the caller's
// routes: counts of transitions between its table's routes (plus "other
// route" and "start of a session") in 256 hashed one-byte counters, and
// the number of transitions out of each route. Collisions only make a
// transition look more probable than it is: they can hide a surprise,
// never invent one. Counters saturate at 255; when a route's transitions
// out reach 65535, all counts are halved, so that the model follows the
// caller and transitions seen once long ago are forgotten.
//
// The model is the caller's, but sessions are per credential and host
// (see sessions): the instances of a service, each with its own
// credential and host, interleave their calls, and only each one's own
// stream has the order of its work. A session ends after ten minutes of
// silence.
//
// A transition between two routes each seen at least 16 times is judged,
// unless it leads to a route first used within the last day: a new route
// is the endpoint detector's, which weighs policy, so that a deploy
// adding a route and the calls around it are not a surprise. Its
// probability is (count + 0.1) / (out + 1), mixed 98:2 with the route's
// share of all calls; it is surprising when its surprisal (−log2 of that)
// exceeds SurpriseBits and it was seen fewer than 64 times. The caller's
// own rate of surprising transitions is learned (how random it is), and
// sequence.surprise fires when so many of the last 16 judged transitions
// are surprising that the binomial tail at that rate is below 10⁻⁷: at
// least 4, more for callers that are often surprising, never for those
// that are always.
type seqState struct {
	cnt    [256]uint8           // transition counts, hashed
	out    [routeCap + 2]uint16 // transitions out of each route, other and start
	judged uint8                // judged transitions in window (≤ 16)
	_      uint8
	window uint16  // the last judged transitions, newest in bit 0: 1 when surprising
	total  uint32  // transitions counted (the sum of out)
	rate   float32 // share of judged transitions that are surprising
	n      uint32  // judged transitions (saturating), for rate's learning rate
}

const (
	seqStart   = routeCap + 1
	sessionGap = 600 // seconds of silence that end a session
	minOut     = 16  // transitions out of a route before those from it are judged
	tailLimit  = 1e-7
	mixShare   = 0.02 // weight of the route's share in a transition's probability
	frequent   = 64   // a transition seen this often is never surprising, whatever its share
)

// sequences judges and learns the transition to the call's route ri.
func (e *Engine) sequences(o *obs, ri uint8) {
	sq := &o.cs.seq
	ss := o.sess
	prev := ss.prev
	if o.sec-o.sessAt > sessionGap {
		prev = seqStart
	}
	key := uint8(((uint32(prev)<<8|uint32(ri))*0x9E3779B1 ^ uint32(e.seed)) >> 24)
	c, out := sq.cnt[key], sq.out[prev]
	if out >= minOut && sq.out[ri] >= minOut && prev != routeOther && ri != routeOther && !o.cs.route.young(ri, o.sec) {
		pc := (float64(c) + 0.1) / float64(out+1)
		pm := (float64(sq.out[ri]) + 0.1) / float64(sq.total+1)
		s := -math.Log2((1-mixShare)*pc + mixShare*pm)
		hit := s >= e.t.SurpriseBits && c < frequent
		var b uint16
		if hit {
			b = 1
		}
		sq.window = sq.window<<1 | b
		sq.judged = min(sq.judged+1, 16)
		a := float32(1) / 2000
		if sq.n < 2000 {
			a = 1 / float32(sq.n+1)
			sq.n++
		}
		sq.rate += a * (float32(b) - sq.rate)
		if hit && o.warm {
			k := bits.OnesCount16(sq.window)
			if need := e.surprisesNeeded(sq.rate); k >= need && int(sq.judged) >= need {
				sev := Medium
				if k >= 12 {
					sev = High
				}
				rate := sq.rate
				e.raise(o, SequenceSurprise, sev, func() map[string]string {
					return map[string]string{
						"expected": fmt.Sprintf("about %.1f%% surprising transitions (under 2^-%.0f), fewer than %d of 16", 100*rate, e.t.SurpriseBits, need),
						"seen":     fmt.Sprintf("%d of the last %d transitions surprising; last to %s %s (%.1f bits)", k, sq.judged, o.c.Method, o.c.routeOrPath(), s),
						"route":    o.c.Method + " " + o.c.routeOrPath(),
					}
				})
			}
		}
	}
	if sq.out[prev] == 65535 {
		for i := range sq.cnt {
			sq.cnt[i] /= 2
		}
		sq.total = 0
		for i := range sq.out {
			sq.out[i] /= 2
			sq.total += uint32(sq.out[i])
		}
	}
	if sq.cnt[key] < 255 {
		sq.cnt[key]++
	}
	sq.out[prev]++
	sq.total++
	ss.prev = ri
}

// surprisesNeeded returns the fewest surprising transitions of 16 whose
// binomial tail, at the caller's rate of surprises (at least 0.2 %), is
// below tailLimit; 17 (never) for callers too random for it.
func (e *Engine) surprisesNeeded(rate float32) int {
	i := 0
	if r := float64(max(rate, 0.002)); r < 1 {
		i = min(int(-math.Log2(r)*4), len(e.need)-1)
	}
	return int(e.need[i])
}

// surpriseTable returns, for rates 2^(−i/4), the fewest of 16 Bernoulli
// trials whose upper tail is below tailLimit (at least 4).
func surpriseTable() [40]uint8 {
	var t [40]uint8
	for i := range t {
		p := math.Exp2(-float64(i) / 4)
		need := 17
		for k := 16; k >= 4; k-- {
			if binomialTail(16, k, p) >= tailLimit {
				break
			}
			need = k
		}
		t[i] = uint8(need)
	}
	return t
}

// binomialTail returns P(X ≥ k) for X ~ Binomial(n, p).
func binomialTail(n, k int, p float64) float64 {
	if p >= 1 {
		return 1
	}
	sum := 0.0
	for j := k; j <= n; j++ {
		lg, _ := math.Lgamma(float64(n + 1))
		l1, _ := math.Lgamma(float64(j + 1))
		l2, _ := math.Lgamma(float64(n - j + 1))
		sum += math.Exp(lg - l1 - l2 + float64(j)*math.Log(p) + float64(n-j)*math.Log1p(-p))
	}
	return sum
}
