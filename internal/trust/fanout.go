package trust

import "fmt"

// The fan-out detector keeps the targets a caller called, across every
// proxy that reported its calls, in a 256-bit Bloom filter. After
// warm-up, each new target adds to a novelty score decayed over an hour:
// 1 for a target policy allows the call to, 2 otherwise (denied, refused
// or unknown). fanout.new_targets fires when the score reaches
// FanoutThreshold plus twice the caller's own hourly rate of new targets
// over the last week: one new dependency after a deploy is not lateral
// movement; three services never called before within the hour are.
type fanoutState struct {
	bloom   [4]uint64 // every target called
	novel   float32   // weighted new targets, decayed over an hour
	base    float32   // decayed over a week
	at      uint32
	targets uint32 // distinct targets (as the filter counts them)
}

// fanout checks and learns the call's target.
func (e *Engine) fanout(o *obs) {
	f := &o.cs.fan
	th := hashString(e.seed^0x7467, o.c.Target)
	if bloomTest(f.bloom[:], th) {
		return
	}
	bloomAdd(f.bloom[:], th)
	f.targets++
	w := float32(2)
	if e.allowance(o.c) == Allowed && !o.c.refused() {
		w = 1
	}
	decayNovelty(&f.novel, &f.base, &f.at, o.sec)
	f.novel += w
	limit := float32(e.t.FanoutThreshold) + 2*hourlyRate(f.base, o.cs.first, o.sec)
	f.base += w
	if !o.warm || f.novel < limit {
		return
	}
	sev := High
	if w < 2 && f.novel < 2*limit {
		sev = Medium
	}
	known, novel := f.targets-1, f.novel
	e.raise(o, FanoutNewTargets, sev, func() map[string]string {
		return map[string]string{
			"expected": fmt.Sprintf("calls to the %d targets this caller used (new-target score under %.1f an hour)", known, limit),
			"seen":     fmt.Sprintf("new target %s (%s); new-target score %.1f", o.c.Target, allowanceText(w), novel),
			"target":   o.c.Target,
		}
	})
}
