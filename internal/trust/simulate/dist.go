package simulate

import (
	"math"
	"math/rand/v2"
)

// rng is the generator's source of randomness: a PCG stream, so that a
// seed gives the same traffic on every platform and Go release.
type rng struct{ *rand.Rand }

// newRNG returns the stream number stream of seed.
func newRNG(seed uint64, stream uint64) rng {
	return rng{rand.New(rand.NewPCG(seed, mix64(stream^0x9e3779b97f4a7c15)))}
}

// mix64 is the SplitMix64 finaliser: a cheap, well-mixed hash of x, used to
// derive credential IDs from a pod and an epoch without keeping state.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// between returns a uniform float in [lo, hi).
func (r rng) between(lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// intBetween returns a uniform int in [lo, hi].
func (r rng) intBetween(lo, hi int) int { return lo + r.IntN(hi-lo+1) }

// chance reports true with probability p.
func (r rng) chance(p float64) bool { return r.Float64() < p }

// logNormal returns exp(mu + sigma·N(0,1)): a size or a latency.
func (r rng) logNormal(mu, sigma float64) float64 { return math.Exp(mu + sigma*r.NormFloat64()) }

// pareto returns a Pareto variate with scale 1 and shape alpha: the heavy
// tail that a few calls of every route have.
func (r rng) pareto(alpha float64) float64 { return math.Pow(1-r.Float64(), -1/alpha) }

// poisson returns a Poisson variate of mean lambda.
func (r rng) poisson(lambda float64) int {
	switch {
	case lambda <= 0:
		return 0
	case lambda < 30:
		l, k, p := math.Exp(-lambda), 0, 1.0
		for {
			p *= r.Float64()
			if p <= l {
				return k
			}
			k++
		}
	default:
		n := math.Round(lambda + math.Sqrt(lambda)*r.NormFloat64())
		return int(max(n, 0))
	}
}

// geometric returns the number of failures before the first success of
// trials with success probability p: 0 most often, rarely large.
func (r rng) geometric(p float64) int {
	return int(math.Floor(math.Log(1-r.Float64()) / math.Log(1-p)))
}

// pick returns an index drawn with the given cumulative weights (cum is
// increasing, its last element the total).
func (r rng) pick(cum []float64) int {
	x := r.Float64() * cum[len(cum)-1]
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// cumulative returns the running sums of w.
func cumulative(w []float64) []float64 {
	c := make([]float64, len(w))
	s := 0.0
	for i, x := range w {
		s += x
		c[i] = s
	}
	return c
}

// zipfWeights returns n weights decreasing as 1/(i+1)^s: a few routes or
// IDs get most of the calls.
func zipfWeights(n int, s float64) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1 / math.Pow(float64(i+1), s)
	}
	return w
}
