package trust

import (
	"fmt"
	"math"
	"math/bits"
)

// The errors detector counts, per caller, calls and refusals (denied by
// policy, refused before it, or answered 401, 403, 404 or 405: what
// probing and enumeration produce), both decayed with a one-minute time
// constant, and learns the caller's usual share of refusals. errors.burst
// fires when the recent refusals exceed what the usual share predicts by
// MinErrors and by four binomial standard deviations: a caller that
// often gets 404s by design needs a larger burst. Its evidence counts the distinct routes refused
// (a 64-bit bitmap: high severity from eight, which is enumeration).
type errorState struct {
	calls, errs float32 // decayed over a minute
	base        float32 // usual share of refusals
	at          uint32
	n           uint32 // calls learned into base (saturating at errLearn)
	paths       uint64 // routes refused in the current burst
}

const errLearn = 1000 // calls over which the share of refusals is averaged

// errorBursts counts the call and checks for a burst of refusals.
func (e *Engine) errorBursts(o *obs) {
	s := &o.cs.errs
	if dt := float64(o.sec - s.at); s.at != 0 && dt > 0 {
		f := float32(math.Exp(-dt / 60))
		s.calls *= f
		s.errs *= f
		if s.errs < 0.5 {
			s.paths = 0
		}
	}
	s.at = o.sec
	ref := o.c.refused()
	s.calls++
	var x float32
	if ref {
		x = 1
		s.errs++
		s.paths |= 1 << (o.route & 63)
	}
	burst := e.active(o.cs, ErrorsBurst, o.sec)
	if !burst {
		a := float32(1) / errLearn
		if s.n < errLearn {
			a = 1 / float32(s.n+1)
			s.n++
		}
		s.base += a * (x - s.base)
	}
	if !ref || !o.warm || s.errs < float32(e.t.MinErrors) {
		return
	}
	exp := s.base * s.calls
	if excess := s.errs - exp; excess < float32(e.t.MinErrors) || excess < 4*sqrt32(exp*(1-s.base)+1) {
		return
	}
	distinct := bits.OnesCount64(s.paths)
	sev := Medium
	if distinct >= 8 {
		sev = High
	}
	errs, calls, base := s.errs, s.calls, s.base
	e.raise(o, ErrorsBurst, sev, func() map[string]string {
		return map[string]string{
			"expected": fmt.Sprintf("about %.1f%% of calls refused or answered 401/403/404/405", 100*base),
			"seen":     fmt.Sprintf("%.0f of the last %.0f calls (in about a minute), on %d distinct routes; last %s %s: %d %s", errs, calls, distinct, o.c.Method, o.c.Path, o.c.Status, o.c.Decision),
			"window":   "1m",
		}
	})
}
