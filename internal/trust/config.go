package trust

import (
	"errors"
	"fmt"
	"time"
)

// Config configures an [Engine]. The zero value of every field is a
// documented default.
type Config struct {
	// Sink is told of signals and trust changes, synchronously, under the
	// engine's lock: it must not block and must not call the engine. Nil
	// drops them (State still reflects them).
	Sink Sink
	// RouteAllowed says whether policy allows caller the route (a
	// template, or a path without one) on target, for the endpoint and
	// fan-out detectors, which weigh a new route or target the caller may
	// not use more than one it may. It is asked only for routes and
	// targets new to a caller, never per call. Nil, or an answer of
	// Unknown, falls back to the call's own decision.
	RouteAllowed func(caller, target, method, route string) Allowance
	// Clock gives the time for what no call dates: Clear, AddContext,
	// State and Table. Nil means time.Now. Detection itself runs on the
	// calls' times, so replaying recorded calls gives the signals they
	// gave live.
	Clock func() time.Time
	// MaxCallers bounds the identities tracked; when full, the one seen
	// least recently among a few sampled is forgotten. 1,048,576 when
	// zero.
	MaxCallers int
	// HashSeed keys the hashes of routes, targets, networks and
	// credentials (so that nobody can craft a route that collides with a
	// known one without knowing it). Zero picks a random seed; a snapshot
	// carries its engine's seed and Restore adopts it.
	HashSeed uint64
	// Tuning holds the detectors' parameters.
	Tuning Tuning
}

// Tuning holds the detectors' and the trust state's parameters. Zero
// fields take the defaults documented on each (see [DefaultTuning]).
type Tuning struct {
	// WarmUp is how long a new caller only learns: no detector fires for
	// a caller seen for less than this, or with fewer than MinCalls
	// calls. 24h by default: a caller's first day teaches its daily
	// rhythm.
	WarmUp time.Duration
	// MinCalls is the fewest calls before a caller's detectors fire; 50.
	MinCalls int
	// Cooldown is how long after a detector last found something an
	// incident lasts: findings of the same kind within it raise no new
	// signal unless more severe. 30m by default.
	Cooldown time.Duration
	// Disabled lists signal kinds never raised.
	Disabled []Kind

	// SpikeFactor: rate.spike fires when the calls of the last ten
	// seconds exceed SpikeFactor times the largest burst this caller made
	// at this hour of day (and its neighbours) in its recent history;
	// 2.5.
	SpikeFactor float64
	// MinSpike is the fewest calls in ten seconds for a rate.spike; 20.
	MinSpike float64
	// ExfilFactor is SpikeFactor for bytes (volume.exfiltration); 4.
	ExfilFactor float64
	// MinExfilBytes is the fewest bytes in ten seconds for a
	// volume.exfiltration by rate; 1 MiB.
	MinExfilBytes float64
	// CUSUMSlack and CUSUMThreshold are the CUSUM's k and h, in robust
	// standard deviations of five-minute counts and bytes at this hour of
	// day (at today's level): rate.sustained and volume.low_and_slow fire
	// when the sum of (z - k) exceeds h. 0.75 and 10.
	CUSUMSlack, CUSUMThreshold float64
	// MinExcessCalls and MinExcessBytes are the least excess over the
	// expected calls or bytes, summed over the CUSUM's run, for
	// rate.sustained (60 calls) and volume.low_and_slow (4 MiB).
	MinExcessCalls, MinExcessBytes float64
	// EndpointThreshold: endpoint.new fires when the weighted count of
	// new routes within about an hour reaches it (plus the caller's own
	// rate of new routes): a route policy allows weighs 1, an unknown one
	// 2, one refused with an error 2, one policy denies 3. 5 by default.
	EndpointThreshold float64
	// SurpriseBits: a transition between routes is surprising when its
	// probability under the caller's model is below 2^-SurpriseBits; 7.
	SurpriseBits float64
	// NewNetworkStable: source.new_network fires only for a caller that
	// used no new network for this long before; 24h.
	NewNetworkStable time.Duration
	// Overlap: source.concurrent fires when a host starts using a
	// credential less than Overlap after another host's last use of it
	// (and, whatever the gap within the hour, when the uses alternate);
	// 10m.
	Overlap time.Duration
	// MinErrors is the fewest refusals and probing errors (decayed over a
	// minute) for an errors.burst; 8.
	MinErrors float64
	// FanoutThreshold: fanout.new_targets fires when the weighted count of
	// new targets within about an hour reaches it (a target policy allows
	// weighs 1, others 2); 3.
	FanoutThreshold float64

	// RecoveryHalfLife is the half-life of a signal's weight on the trust
	// score once the caller has been clean for QuietPeriod; 6h.
	RecoveryHalfLife time.Duration
	// QuietPeriod is how long after the last finding recovery starts; 30m.
	QuietPeriod time.Duration
	// Penalty is the score a signal of each severity takes away, indexed
	// by Severity (Low to Critical): 60, 150, 300, 500 by default.
	Penalty [5]int
	// ScoreStep is the least score change reported as a Change when the
	// level stays the same; 25.
	ScoreStep int
}

// DefaultTuning returns the default parameters.
func DefaultTuning() Tuning {
	return Tuning{
		WarmUp: 24 * time.Hour, MinCalls: 50, Cooldown: 30 * time.Minute,
		SpikeFactor: 2.5, MinSpike: 20, ExfilFactor: 4, MinExfilBytes: 1 << 20,
		CUSUMSlack: 0.75, CUSUMThreshold: 10, MinExcessCalls: 60, MinExcessBytes: 4 << 20,
		EndpointThreshold: 5, SurpriseBits: 7,
		NewNetworkStable: 24 * time.Hour, Overlap: 10 * time.Minute,
		MinErrors: 8, FanoutThreshold: 3,
		RecoveryHalfLife: 6 * time.Hour, QuietPeriod: 30 * time.Minute,
		Penalty: [5]int{0, 60, 150, 300, 500}, ScoreStep: 25,
	}
}

// ErrConfig is wrapped by the errors of [New] for an invalid Config.
var ErrConfig = errors.New("trust: invalid config")

// withDefaults returns t with its zero fields set to the defaults, or an
// error wrapping ErrConfig for a negative one.
func (t Tuning) withDefaults() (Tuning, error) {
	d := DefaultTuning()
	durs := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"WarmUp", &t.WarmUp, d.WarmUp}, {"Cooldown", &t.Cooldown, d.Cooldown},
		{"NewNetworkStable", &t.NewNetworkStable, d.NewNetworkStable}, {"Overlap", &t.Overlap, d.Overlap},
		{"RecoveryHalfLife", &t.RecoveryHalfLife, d.RecoveryHalfLife}, {"QuietPeriod", &t.QuietPeriod, d.QuietPeriod},
	}
	for _, f := range durs {
		if *f.v < 0 {
			return t, fmt.Errorf("%w: Tuning.%s is negative", ErrConfig, f.name)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	nums := []struct {
		name   string
		v, def *float64
	}{
		{"SpikeFactor", &t.SpikeFactor, &d.SpikeFactor}, {"MinSpike", &t.MinSpike, &d.MinSpike},
		{"ExfilFactor", &t.ExfilFactor, &d.ExfilFactor}, {"MinExfilBytes", &t.MinExfilBytes, &d.MinExfilBytes},
		{"CUSUMSlack", &t.CUSUMSlack, &d.CUSUMSlack}, {"CUSUMThreshold", &t.CUSUMThreshold, &d.CUSUMThreshold},
		{"MinExcessCalls", &t.MinExcessCalls, &d.MinExcessCalls}, {"MinExcessBytes", &t.MinExcessBytes, &d.MinExcessBytes},
		{"EndpointThreshold", &t.EndpointThreshold, &d.EndpointThreshold}, {"SurpriseBits", &t.SurpriseBits, &d.SurpriseBits},
		{"MinErrors", &t.MinErrors, &d.MinErrors}, {"FanoutThreshold", &t.FanoutThreshold, &d.FanoutThreshold},
	}
	for _, f := range nums {
		if *f.v < 0 || *f.v != *f.v {
			return t, fmt.Errorf("%w: Tuning.%s is negative", ErrConfig, f.name)
		}
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if t.MinCalls < 0 || t.ScoreStep < 0 {
		return t, fmt.Errorf("%w: Tuning.MinCalls and ScoreStep must not be negative", ErrConfig)
	}
	if t.MinCalls == 0 {
		t.MinCalls = d.MinCalls
	}
	if t.ScoreStep == 0 {
		t.ScoreStep = d.ScoreStep
	}
	if t.Penalty == ([5]int{}) {
		t.Penalty = d.Penalty
	}
	for s, p := range t.Penalty[1:] {
		if p < 0 || p > MaxScore {
			return t, fmt.Errorf("%w: Tuning.Penalty[%s] = %d, want 0 to %d", ErrConfig, Severity(s+1), p, MaxScore)
		}
	}
	for _, k := range t.Disabled {
		if k >= numKinds {
			return t, fmt.Errorf("%w: Tuning.Disabled holds unknown kind %d", ErrConfig, k)
		}
	}
	return t, nil
}
