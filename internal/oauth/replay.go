package oauth

import (
	"hash/maphash"
	"sync"
	"time"
)

// defaultReplayCapacity bounds the identifiers remembered at once: at 60
// bytes each, some 60 MB. When full, requests that need a replay check are
// refused until identifiers expire, rather than letting a replay through.
const defaultReplayCapacity = 1_000_000

const replayShards = 16

// replayCache remembers one-time identifiers (client assertion and DPoP
// proof jtis) until they expire. It lives in memory: each replica keeps
// its own, so a proof could be replayed once against another replica
// within its short lifetime.
type replayCache struct {
	seed     maphash.Seed
	perShard int
	shards   [replayShards]replayShard
}

// replayShard is one lock's share of the identifiers.
type replayShard struct {
	mu sync.Mutex
	m  map[string]int64 // expiry, Unix nanoseconds
}

func newReplayCache(capacity int) *replayCache {
	c := &replayCache{seed: maphash.MakeSeed(), perShard: max(capacity/replayShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]int64)
	}
	return c
}

// errReplayFull is returned when the cache cannot take another identifier.
var errReplayFull = &protocolError{code: codeTemporarily, desc: "the server is busy; retry later"}

// firstUse records key until expires and reports whether it was unseen
// (or seen but expired). It returns errReplayFull when the cache is full.
func (c *replayCache) firstUse(key string, expires, now time.Time) (bool, error) {
	sh := &c.shards[maphash.String(c.seed, key)%replayShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if exp, ok := sh.m[key]; ok && exp > now.UnixNano() {
		return false, nil
	}
	if len(sh.m) >= c.perShard {
		c.sweepShard(sh, now.UnixNano())
		if len(sh.m) >= c.perShard {
			return false, errReplayFull
		}
	}
	sh.m[key] = expires.UnixNano()
	return true, nil
}

// sweep forgets expired identifiers.
func (c *replayCache) sweep(now time.Time) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		c.sweepShard(sh, now.UnixNano())
		sh.mu.Unlock()
	}
}

func (c *replayCache) sweepShard(sh *replayShard, now int64) {
	for k, exp := range sh.m {
		if exp <= now {
			delete(sh.m, k)
		}
	}
}
