package agent

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// backoff computes reconnection delays: exponential growth from base up to
// max, with full jitter (a uniformly random delay between zero and the
// exponential bound), so that many agents cut off together do not
// reconnect together.
type backoff struct {
	base, max time.Duration
	attempt   int
}

// next returns the delay before the next attempt and counts it.
func (b *backoff) next() time.Duration {
	bound := b.max
	if b.attempt < 30 {
		bound = min(b.max, b.base<<b.attempt)
	}
	b.attempt++
	return randDuration(bound)
}

// reset starts over after a success.
func (b *backoff) reset() { b.attempt = 0 }

// randDuration returns a uniformly random duration in [0, d).
func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	var buf [8]byte
	_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails
	return time.Duration(binary.LittleEndian.Uint64(buf[:]) % uint64(d))
}

// jittered returns d shifted by a uniformly random amount in
// [-d*pct/100, +d*pct/100].
func jittered(d time.Duration, pct int) time.Duration {
	span := d * time.Duration(pct) / 100
	if span <= 0 {
		return d
	}
	return d - span + randDuration(2*span+1)
}

// sleep waits for d or until ctx is done; it reports whether d passed.
func sleep(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-t.C:
		return true
	}
}
