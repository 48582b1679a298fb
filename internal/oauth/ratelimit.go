package oauth

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// maxBuckets bounds each limiter's map. When it is full, buckets that are
// full again (idle keys) are dropped; if none is, the map is reset, which
// forgives every key rather than growing without bound.
const maxBuckets = 100_000

// bucket is a token bucket: tokens available at time last.
type bucket struct {
	tokens float64
	last   int64 // Unix nanoseconds
}

// bucketLimiter keeps one token bucket per key.
type bucketLimiter struct {
	rate  float64 // tokens per second
	burst float64

	mu sync.Mutex
	m  map[string]*bucket
}

func newBucketLimiter(rate float64, burst int) *bucketLimiter {
	return &bucketLimiter{rate: rate, burst: float64(burst), m: make(map[string]*bucket)}
}

// refill returns key's bucket brought up to now. Callers hold l.mu.
func (l *bucketLimiter) refill(key string, now int64) *bucket {
	b := l.m[key]
	if b == nil {
		if len(l.m) >= maxBuckets {
			l.sweepLocked(now)
			if len(l.m) >= maxBuckets {
				l.m = make(map[string]*bucket)
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.m[key] = b
		return b
	}
	if now > b.last {
		b.tokens = math.Min(l.burst, b.tokens+float64(now-b.last)/1e9*l.rate)
		b.last = now
	}
	return b
}

// take takes a token from key's bucket. If it is empty, it reports false
// and how long until a token is available.
func (l *bucketLimiter) take(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key, now.UnixNano())
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, l.wait(b)
}

// check reports whether key's bucket has a token, without taking it.
func (l *bucketLimiter) check(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.m[key]; !ok {
		return true, 0 // do not create buckets for every source that calls
	}
	b := l.refill(key, now.UnixNano())
	if b.tokens >= 1 {
		return true, 0
	}
	return false, l.wait(b)
}

func (l *bucketLimiter) wait(b *bucket) time.Duration {
	if l.rate <= 0 {
		return time.Hour
	}
	return time.Duration((1 - b.tokens) / l.rate * 1e9)
}

// sweep drops the buckets that have refilled: their keys are idle.
func (l *bucketLimiter) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now.UnixNano())
}

func (l *bucketLimiter) sweepLocked(now int64) {
	for k, b := range l.m {
		if b.tokens+float64(now-b.last)/1e9*l.rate >= l.burst {
			delete(l.m, k)
		}
	}
}

// limiters are the rate limits of the token, introspection and
// revocation endpoints: token requests per authenticated client, and
// failed client authentications (see bruteForceGuard).
type limiters struct {
	client *bucketLimiter
	guard  *bruteForceGuard
}

func newLimiters(cfg Config) *limiters {
	return &limiters{
		client: newBucketLimiter(cfg.ClientRate, cfg.ClientBurst),
		guard:  newBruteForceGuard(cfg),
	}
}

func (l *limiters) sweep(now time.Time) {
	l.client.sweep(now)
	l.guard.sweep(now)
}

// sourceKey returns the rate limiting key of the request's source: its IP
// address, or its /64 for IPv6, where one host may hold a whole prefix.
func sourceKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
