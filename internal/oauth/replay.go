package oauth

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// defaultReplayCapacity bounds the identifiers remembered at once, of all
// clients: at about 80 bytes each, some 80 MB. When full, requests that
// need a replay check are refused until identifiers expire, rather than
// letting a replay through.
const defaultReplayCapacity = 1_000_000

const replayShards = 16

// replayCache remembers one-time identifiers (client assertion and DPoP
// proof jtis) until they expire. Each belongs to an owner, the client
// that presented it once authenticated, and each owner holds at most its
// share of the cache: a client that sends fresh identifiers as fast as
// its rate limit lets it fills its share, not the cache. Identifiers are
// kept as a 128-bit keyed hash, so their size does not depend on what a
// client sent. The cache lives in memory: each replica keeps its own, so
// a proof could be replayed once against another replica within its
// short lifetime.
type replayCache struct {
	seeds    [2]maphash.Seed
	share    int   // identifiers per owner
	capacity int64 // identifiers of all owners
	n        atomic.Int64
	shards   [replayShards]replayShard
}

// replayKey is a keyed hash of an owner and an identifier.
type replayKey [2]uint64

// replayShard is one lock's share of the owners and their identifiers.
type replayShard struct {
	mu     sync.Mutex
	seen   map[replayKey]int64 // expiry, Unix nanoseconds
	owners map[string]*replayLog
}

// replayLog is an owner's identifiers in the order they were remembered.
// Expiry mostly follows that order; one that outlives those after it
// keeps them counted until it expires, which only costs its owner.
type replayLog struct {
	items []replayItem
	head  int
}

type replayItem struct {
	key replayKey
	exp int64
}

func (l *replayLog) len() int { return len(l.items) - l.head }

func newReplayCache(capacity, share int) *replayCache {
	c := &replayCache{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		share: max(share, 1), capacity: int64(max(capacity, 1))}
	for i := range c.shards {
		c.shards[i].seen = make(map[replayKey]int64)
		c.shards[i].owners = make(map[string]*replayLog)
	}
	return c
}

// errReplayFull is returned when the cache cannot take another identifier.
var errReplayFull = &protocolError{code: codeTemporarily, desc: "the server is busy; retry later"}

// replayShareFull refuses a client whose share of the cache is full, until
// its oldest identifier expires.
func replayShareFull(retry time.Duration) *protocolError {
	return &protocolError{code: codeTemporarily, retryAfter: max(retry, time.Second),
		desc: "this client has too many unexpired client assertions and DPoP proofs; retry later"}
}

// firstUse records owner's identifier key until expires and reports
// whether it was unseen (or seen but expired). It returns a 429 error when
// owner's share is full and errReplayFull when the cache is.
func (c *replayCache) firstUse(owner, key string, expires, now time.Time) (bool, error) {
	k := replayKey{maphash.String(c.seeds[0], owner+"\x00"+key), maphash.String(c.seeds[1], owner+"\x00"+key)}
	sh := &c.shards[maphash.String(c.seeds[0], owner)%replayShards]
	t := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if exp, ok := sh.seen[k]; ok && exp > t {
		return false, nil
	}
	l := sh.owners[owner]
	if l == nil {
		l = &replayLog{}
		sh.owners[owner] = l
	}
	c.expire(sh, l, t)
	if l.len() >= c.share {
		return false, replayShareFull(time.Duration(l.items[l.head].exp - t))
	}
	if c.n.Load() >= c.capacity {
		c.sweepShard(sh, t)
		if c.n.Load() >= c.capacity {
			return false, errReplayFull
		}
	}
	sh.seen[k] = expires.UnixNano()
	l.items = append(l.items, replayItem{key: k, exp: expires.UnixNano()})
	c.n.Add(1)
	return true, nil
}

// expire forgets the owner's expired identifiers at the head of its log.
// Callers hold sh.mu.
func (c *replayCache) expire(sh *replayShard, l *replayLog, now int64) {
	for l.head < len(l.items) && l.items[l.head].exp <= now {
		it := l.items[l.head]
		if sh.seen[it.key] == it.exp {
			delete(sh.seen, it.key) // not if it was remembered again since
		}
		l.items[l.head] = replayItem{}
		l.head++
		c.n.Add(-1)
	}
	if l.head > 0 && l.head*2 >= len(l.items) {
		l.items = append(l.items[:0], l.items[l.head:]...)
		l.head = 0
	}
}

// sweep forgets expired identifiers and owners with none left.
func (c *replayCache) sweep(now time.Time) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		c.sweepShard(sh, now.UnixNano())
		sh.mu.Unlock()
	}
}

// sweepShard is sweep for one shard. Callers hold sh.mu.
func (c *replayCache) sweepShard(sh *replayShard, now int64) {
	for owner, l := range sh.owners {
		c.expire(sh, l, now)
		if l.len() == 0 {
			delete(sh.owners, owner)
		}
	}
}
