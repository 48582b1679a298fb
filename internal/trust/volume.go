package trust

import (
	"fmt"
	"math"
)

// The per-call half of the volume detector (the window half is in
// rate.go) keeps, per route of the caller's table, the exponentially
// weighted mean and mean absolute deviation of log2 of the call's bytes
// (request and response), in 1/1024 bit. A call is oversized when it is
// at least 256 KiB, 16 times the route's typical size, and four robust
// deviations above it (the deviation floored at one bit), judged once the
// route has 20 calls. volume.exfiltration fires on the second oversized
// call within about ten minutes: one odd report is not an incident, a
// stream of dumps is. Oversized calls are learned at a quarter of the
// rate, so that a stream of them does not become the norm within minutes.
const (
	logScale     = 1024      // fixed-point scale of log2 sizes
	minOversize  = 256 << 10 // bytes
	oversizeBits = 4         // 16 times
	minRouteObs  = 20
	bigDecay     = 600.0 // seconds: time constant of the oversized-call count
)

// callVolume judges and learns the call's size against its route's.
func (e *Engine) callVolume(o *obs, ri uint8) {
	if ri >= routeCap {
		return
	}
	rt := &o.cs.route
	lb := float32(math.Log2(float64(o.bytes)+1)) * logScale
	mean, dev, n := float32(rt.mean[ri]), float32(rt.dev[ri]), rt.n[ri]
	diff := lb - mean
	oversized := n >= minRouteObs && o.bytes >= minOversize &&
		diff >= oversizeBits*logScale && diff >= 4*max(1.25*dev, logScale)
	a := float32(1) / 64
	if n < 63 {
		a = 1 / float32(n+1)
		rt.n[ri]++
	}
	if oversized {
		a /= 4
	}
	mean += a * diff
	dev += a * (abs32(diff) - dev)
	rt.mean[ri], rt.dev[ri] = uint16(min(max(mean, 0), 65535)), uint16(min(max(dev, 0), 65535))
	if !oversized {
		return
	}
	if dt := float64(o.sec - rt.bigAt); rt.bigAt != 0 && dt > 0 {
		rt.big *= float32(math.Exp(-dt / bigDecay))
	}
	rt.bigAt = o.sec
	rt.big++
	if !o.warm || rt.big < 1.5 {
		return
	}
	sev := High
	if o.bytes >= 1<<30 {
		sev = Critical
	}
	typical := float32(math.Exp2(float64(mean-a*diff) / logScale))
	e.raise(o, VolumeExfiltration, sev, func() map[string]string {
		return map[string]string{
			"expected": fmt.Sprintf("about %s per call to %s %s", byteSize(typical), o.c.Method, o.c.routeOrPath()),
			"seen":     fmt.Sprintf("%s in one call, %.0f oversized calls in the last minutes", byteSize(o.bytes), rt.big),
			"route":    o.c.Method + " " + o.c.routeOrPath(),
			"window":   "call",
		}
	})
}
