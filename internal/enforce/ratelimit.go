package enforce

import (
	"sync"
	"time"

	"github.com/kith-dev/kith/internal/policy"
)

// limiter holds token buckets, one per rate-limit rule and caller.
type limiter struct {
	max int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(max int) *limiter {
	return &limiter{max: max, buckets: make(map[string]*bucket)}
}

// allow takes a token from key's bucket for rate rl at now. When the
// bucket is empty it returns false and how long until a token is there.
func (l *limiter) allow(key string, rl *policy.RateLimit, now time.Time) (time.Duration, bool) {
	if rl.RPS <= 0 {
		return time.Second, false
	}
	burst := float64(max(rl.Burst, 1))
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.prune(now)
		}
		b = &bucket{tokens: burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(burst, b.tokens+el*rl.RPS)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / rl.RPS * float64(time.Second)), false
}

// prune drops buckets idle for a minute (full again under any rate of at
// least burst/60 per second) and, if that frees nothing, all of them:
// forgetting buckets only ever lets calls through early, it never
// refuses one.
func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.last) > time.Minute {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= l.max {
		clear(l.buckets)
	}
}
