package authn

import (
	"sync"
	"time"
)

// verifiedCache remembers the results of signature verifications (an
// X509-SVID chain, an access token), each until a deadline. Only the
// expensive, immutable part of a verification is cached: what can change
// while a credential is in use (the revocation set, the binding to a
// connection or a request, the trust bundles) is checked by the verifier
// on every call.
//
// It is bounded: when full, it drops expired entries and, if that frees
// nothing, all of them; forgetting an entry only costs a verification.
type verifiedCache[K comparable, V any] struct {
	max int

	mu sync.RWMutex
	m  map[K]cached[V]
}

type cached[V any] struct {
	v     V
	until time.Time
}

func newVerifiedCache[K comparable, V any](max int) *verifiedCache[K, V] {
	return &verifiedCache[K, V]{max: max, m: make(map[K]cached[V])}
}

// get returns the value cached under key if it is still valid at now.
func (c *verifiedCache[K, V]) get(key K, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put caches v under key until until.
func (c *verifiedCache[K, V]) put(key K, v V, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[key] = cached[V]{v: v, until: until}
}

// cacheUntil is when a verification made at now stops being reused: ttl
// after now (no bound when ttl is zero), but never past expiry.
func cacheUntil(now time.Time, ttl time.Duration, expiry time.Time) time.Time {
	if ttl > 0 && now.Add(ttl).Before(expiry) {
		return now.Add(ttl)
	}
	return expiry
}
