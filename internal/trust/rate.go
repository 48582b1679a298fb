package trust

import (
	"fmt"
	"math"
)

// The rate detector and the window half of the volume detector share one
// state per caller: calls and bytes counted in ten-second and five-minute
// buckets, and a profile per hour of day (UTC) learned from them.
//
//   - Bursts (rate.spike, volume.exfiltration): the calls and bytes of the
//     last ten seconds, a sliding estimate over the current and previous
//     bucket, against the largest such estimate the caller made at this
//     hour of day and the hours beside it in its recent history (a decayed
//     peak: it loses about 3 % a day; see logPeak). A caller's daily peaks and its cron
//     bursts are its own history, so they do not fire; a burst several
//     times larger than any it made at this hour does, within seconds.
//   - Sustained rises (rate.sustained, volume.low_and_slow): a one-sided
//     CUSUM over five-minute buckets of z = (x − expected) / scale, where
//     expected is the mean of this hour of day (exponentially weighted
//     over about four days) times today's level (the recent buckets
//     against their hours' means, over about six hours: a busy day is
//     not an attack, a rise within the hour is), and the scale is the
//     hour's mean absolute deviation; z is clipped to ±4 so that no single
//     bucket decides, with a scale floored at a quarter of the mean and at
//     Poisson noise. The five-minute buckets count the caller's
//     background: of each ten seconds, at most four times the usual ten
//     seconds at this hour (at least 3; in the hour's first day, four
//     times the recent calls per busy ten seconds) — bursts are the burst
//     detector's; so that an hourly cron burst does not inflate the
//     deviation a steady rise would hide in, while a sustained rise of
//     any size still counts up to four times. Buckets are also winsorized
//     at four scales above the mean before they are learned. It fires
//     when the sum of (z − k) exceeds h and the excess over the run adds
//     up to a minimum and to half of what the run expected (a day half
//     again as busy is not an attack). A rise of half the usual volume
//     is found in about an hour; a doubling within minutes.
//
// While an incident of a kind is under way, its peaks grow by at most 2 %
// a bucket and its means learn four times slower: an attack must not
// become the caller's new normal within the hour.
type rateState struct {
	b10, b5  uint32  // current ten-second and five-minute buckets (Unix time / 10 s, / 300 s)
	runStart uint32  // when the CUSUM on calls left zero
	c10, y10 float32 // calls and bytes in the current ten-second bucket
	p10, q10 float32 // in the previous one, if it was adjacent
	m10, n10 float32 // largest sliding estimates of calls and bytes within the current one
	c5, y5   float32 // calls and bytes in the current five-minute bucket
	sC, sB   float32 // CUSUM on calls and bytes
	xC, xB   float32 // excess calls and bytes over the CUSUMs' runs
	eC, eB   float32 // expected calls and bytes over the runs
	gC, gB   float32 // largest ten-second calls and bytes at any hour (decayed)
	refC     float32 // burstRef of hour refH-1, cached until a peak changes
	refB     float32
	cap10    float32 // calls of a ten-second bucket counted in five-minute buckets
	avg10    float32 // calls per non-empty ten-second bucket, exponentially weighted
	lvC, lvB float32 // today's level: recent calls and bytes against the profile
	refH     uint8
	n        [24]uint8
	slot     [24]slotStats
}

// slotStats is the profile of one hour of day.
type slotStats struct {
	peakC, peakB logPeak // largest ten-second calls and bytes (decayed)
	meanC, devC  float32 // five-minute calls: mean, mean absolute deviation
	meanB, devB  float32 // five-minute bytes
}

const (
	globalDecay    = 0.9998   // per five-minute bucket: about 5.6 % a day
	minSlotObs     = 12       // a day's buckets of an hour before its profile is used
	maxGap5        = 288      // five-minute buckets (a day) of silence still accounted one by one
	profileRate    = 0.02     // the profile's learning rate per bucket, once it has 50
	levelRate      = 1.0 / 72 // today's level's learning rate per bucket: six hours
	cusumCap       = 3        // times h the CUSUM is capped at
	minExcessShare = 0.5      // least excess of a sustained rise, as a share of what its run expected
)

// rateWindows counts the call into the caller's buckets and checks the
// ten-second windows.
func (e *Engine) rateWindows(o *obs) {
	r := &o.cs.rate
	b10, b5 := uint32(o.ms/10000), uint32(o.ms/300000)
	if r.b10 == 0 {
		r.b10, r.b5, r.cap10, r.avg10, r.lvC, r.lvB = b10, b5, 3, 1, 1, 1
	}
	if b10 != r.b10 {
		e.close10(o, r, b10)
	}
	if b5 != r.b5 {
		e.close5(o, r, b5)
	}
	h := hourOf(o.sec)
	if r.refH != uint8(h+1) {
		r.refC, r.refB = r.burstRef(h)
		r.cap10 = max(4*r.slot[h].meanC/30, 3)
		if r.n[h] < minSlotObs { // the hour's first day: the recent level
			r.cap10 = max(4*r.avg10, 3)
		}
		r.refH = uint8(h + 1)
	}
	if r.c10 < r.cap10 {
		r.c5++
		r.y5 += o.bytes
	}
	r.c10++
	r.y10 += o.bytes
	frac := float32(o.ms%10000) / 10000
	estC, estB := r.c10+r.p10*(1-frac), r.y10+r.q10*(1-frac)
	r.m10, r.n10 = max(r.m10, estC), max(r.n10, estB)
	if !o.warm {
		return
	}
	refC, refB := r.refC, r.refB
	if limit := max(float32(e.t.MinSpike), float32(e.t.SpikeFactor)*refC); estC > limit {
		sev := Medium
		if estC > 10*max(refC, 1) {
			sev = High
		}
		e.raise(o, RateSpike, sev, func() map[string]string {
			return map[string]string{
				"expected": fmt.Sprintf("at most %.0f calls in 10s at %02d:00 UTC (largest burst %.0f, limit %.0f)", refC, hourOf(o.sec), refC, limit),
				"seen":     fmt.Sprintf("%.0f calls in the last 10s", estC),
				"window":   "10s",
			}
		})
	}
	if limit := max(float32(e.t.MinExfilBytes), float32(e.t.ExfilFactor)*refB); estB > limit {
		sev := High
		if estB > 25*max(refB, 1) {
			sev = Critical
		}
		e.raise(o, VolumeExfiltration, sev, func() map[string]string {
			return map[string]string{
				"expected": fmt.Sprintf("at most %s in 10s at %02d:00 UTC (largest burst, limit %s)", byteSize(refB), hourOf(o.sec), byteSize(limit)),
				"seen":     byteSize(estB) + " in the last 10s",
				"window":   "10s",
			}
		})
	}
}

// burstRef returns the largest ten-second calls and bytes of hour h and
// its neighbours, or of any hour when h has too little history.
func (r *rateState) burstRef(h int) (calls, bytes float32) {
	if r.n[h] < minSlotObs {
		return r.gC, r.gB
	}
	for _, j := range [3]int{(h + 23) % 24, h, (h + 1) % 24} {
		if j == h || r.n[j] >= minSlotObs {
			calls, bytes = max(calls, r.slot[j].peakC.value()), max(bytes, r.slot[j].peakB.value())
		}
	}
	return calls, bytes
}

// close10 closes the current ten-second bucket: its largest sliding
// estimates become the peaks of its hour if larger.
func (e *Engine) close10(o *obs, r *rateState, b10 uint32) {
	s := &r.slot[hourOfUnix(int64(r.b10)*10)]
	spike, exfil := e.active(o.cs, RateSpike, o.sec), e.active(o.cs, VolumeExfiltration, o.sec)
	s.peakC, r.gC = newLogPeak(learnPeak(s.peakC.value(), r.m10, spike)), learnPeak(r.gC, r.m10, spike)
	s.peakB, r.gB = newLogPeak(learnPeak(s.peakB.value(), r.n10, exfil)), learnPeak(r.gB, r.n10, exfil)
	r.refH = 0
	r.avg10 += 0.05 * (r.c10 - r.avg10)
	if b10 == r.b10+1 {
		r.p10, r.q10 = r.c10, r.y10
	} else {
		r.p10, r.q10 = 0, 0
	}
	r.c10, r.y10, r.m10, r.n10 = 0, 0, 0, 0
	r.b10 = b10
}

// logPeak is a decayed maximum kept in 16 bits as log2(x + 1) × 512
// (0.14 % steps): decaying is subtracting, and half the size of a float.
type logPeak uint16

// slotDecay is the decay of an hour's peaks per five-minute bucket of the
// hour, in logPeak units: 2/512 of a bit, × 0.9973, about 3.2 % a day.
const slotDecay = 2

func newLogPeak(x float32) logPeak {
	return logPeak(min(math.Log2(float64(x)+1)*512+0.5, 65535))
}

func (p logPeak) value() float32 { return float32(math.Exp2(float64(p)/512) - 1) }

func (p logPeak) decay() logPeak { return p - min(p, slotDecay) }

// learnPeak returns peak raised to x, by at most 2 % (and one) while an
// incident is under way.
func learnPeak(peak, x float32, incident bool) float32 {
	if incident {
		x = min(x, peak*1.02+1)
	}
	return max(peak, x)
}

// hourOfUnix returns the hour of day (UTC) of Unix time u.
func hourOfUnix(u int64) int { return int(u / 3600 % 24) }

// close5 closes the current five-minute bucket and accounts for the
// silent ones since, up to a day of them; after a longer silence the
// CUSUMs start afresh.
func (e *Engine) close5(o *obs, r *rateState, b5 uint32) {
	e.bucket5(o, r, r.b5, r.c5, r.y5)
	if gap := b5 - r.b5; gap <= maxGap5 {
		for b := r.b5 + 1; b < b5; b++ {
			e.bucket5(o, r, b, 0, 0)
		}
	} else {
		r.sC, r.sB, r.xC, r.xB = 0, 0, 0, 0
	}
	r.c5, r.y5 = 0, 0
	r.b5 = b5
}

// bucket5 runs the CUSUMs on one five-minute bucket of x calls and y
// bytes, then learns it into its hour's profile.
func (e *Engine) bucket5(o *obs, r *rateState, b uint32, x, y float32) {
	h := hourOfUnix(int64(b) * 300)
	s := &r.slot[h]
	s.peakC, s.peakB = s.peakC.decay(), s.peakB.decay()
	r.refH = 0
	r.gC *= globalDecay
	r.gB *= globalDecay
	n := r.n[h]
	k, limit := float32(e.t.CUSUMSlack), float32(e.t.CUSUMThreshold)
	judge := o.warm && n >= minSlotObs
	if judge {
		eC, eB := s.meanC*r.lvC, s.meanB*r.lvB // expected at today's level
		scaleC := max(1.25*s.devC*r.lvC, 0.25*eC, sqrt32(eC), 1)
		if r.sC == 0 {
			r.runStart = uint32(int64(b)*300 - epoch)
		}
		r.sC, r.xC, r.eC = cusum(r.sC, r.xC, r.eC, (x-eC)/scaleC, x, eC, k, limit)
		scaleB := max(1.25*s.devB*r.lvB, 0.25*eB, eB/sqrt32(max(eC, 1)), 4096)
		r.sB, r.xB, r.eB = cusum(r.sB, r.xB, r.eB, (y-eB)/scaleB, y, eB, k, limit)
		if r.sC > limit && r.xC >= float32(e.t.MinExcessCalls) && r.xC >= minExcessShare*r.eC {
			meanC, run := eC, o.sec-min(r.runStart, o.sec)
			e.raise(o, RateSustained, severityOfRun(x, meanC), func() map[string]string {
				return map[string]string{
					"expected": fmt.Sprintf("about %.1f calls per 5m at %02d:00 UTC", meanC, h),
					"seen":     fmt.Sprintf("%.0f calls in the last 5m; %.0f more than expected over %dm", x, r.xC, run/60),
					"window":   "5m",
				}
			})
		}
		if r.sB > limit && r.xB >= float32(e.t.MinExcessBytes) && r.xB >= minExcessShare*r.eB {
			meanB, run := eB, o.sec-min(r.runStart, o.sec)
			e.raise(o, VolumeLowAndSlow, severityOfRun(y, meanB), func() map[string]string {
				return map[string]string{
					"expected": fmt.Sprintf("about %s per 5m at %02d:00 UTC", byteSize(meanB), h),
					"seen":     fmt.Sprintf("%s in the last 5m; %s more than expected over %dm", byteSize(y), byteSize(r.xB), run/60),
					"window":   "5m",
				}
			})
		}
	}
	a := float32(profileRate)
	if n < 49 {
		a = 1 / float32(n+1)
	}
	aC, aB := a, a
	if r.sC >= limit/2 {
		aC /= 4
	}
	if r.sB >= limit/2 {
		aB /= 4
	}
	if n >= minSlotObs { // today's level, over about six hours
		lC, lB := float32(levelRate), float32(levelRate)
		if r.sC >= limit/2 {
			lC /= 4
		}
		if r.sB >= limit/2 {
			lB /= 4
		}
		if s.meanC >= 1 {
			r.lvC += lC * (min(max(x/s.meanC, 1.0/3), 3) - r.lvC)
		}
		if s.meanB >= 1024 {
			r.lvB += lB * (min(max(y/s.meanB, 1.0/3), 3) - r.lvB)
		}
	}
	// Winsorized: an hourly cron burst must not inflate the profile's
	// deviation so much that a steady rise hides in it.
	if n >= minSlotObs {
		x = min(x, s.meanC+4*max(1.25*s.devC, sqrt32(s.meanC), 1))
		y = min(y, s.meanB+4*max(1.25*s.devB, 0.25*s.meanB, 4096))
	}
	dC, dB := x-s.meanC, y-s.meanB
	s.meanC += aC * dC
	s.devC += aC * (abs32(dC) - s.devC)
	s.meanB += aB * dB
	s.devB += aB * (abs32(dB) - s.devB)
	if n < 255 {
		r.n[h]++
	}
}

// cusum returns the CUSUM s, the run's excess ex and what the run
// expected es after one more bucket of standardised deviation z (clipped
// to ±4), seen x and expected e.
func cusum(s, ex, es, z, x, e, k, limit float32) (float32, float32, float32) {
	z = min(max(z, -4), 4)
	s = min(max(s+z-k, 0), cusumCap*limit)
	if s == 0 {
		return 0, 0, 0
	}
	return s, ex + x - e, es + e
}

// severityOfRun grades a sustained rise by the last bucket against the
// mean: medium, high from three times.
func severityOfRun(x, mean float32) Severity {
	if x > 3*max(mean, 1) {
		return High
	}
	return Medium
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// byteSize formats n bytes for evidence, as "512 B", "3.2 KiB", "1.5 MiB".
func byteSize(n float32) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%.0f B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", n/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", n/(1<<30))
}
