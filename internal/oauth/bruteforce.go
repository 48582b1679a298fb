package oauth

import (
	"sync"
	"time"
)

// knownSourceTTL is how long a source stays known for a client after it
// last authenticated as that client.
const knownSourceTTL = time.Hour

// bruteForceGuard limits failed client authentications without letting
// the failures of one identity lock out another:
//
//   - Per client: failed attempts naming a client (from any source) take
//     from the client's failure budget. While it is empty, requests naming
//     the client are refused with 429 before their credentials are
//     checked, so the number of guesses against one client is bounded
//     whatever the number of sources. Sources the client authenticated
//     from in the last knownSourceTTL are exempt: a client under attack
//     keeps working from where it works. (A client's first request from a
//     new source during an attack on that very client waits for the
//     budget; the failures of other clients never make it wait.)
//   - Per known source of a client: its failures take from a budget of
//     their own; when it is empty the source is no longer exempt.
//   - Per source: failed attempts from a source (an IP address, or an
//     IPv6 /64) take from its failure budget. While it is empty, failures
//     from it are answered 429 instead of 401 and recorded in the ledger
//     as one coalesced refusal per source; requests that authenticate are
//     never refused for them, since every workload of a node or behind a
//     NAT shares its address.
//
// Every map is bounded (see maxBuckets).
type bruteForceGuard struct {
	source *bucketLimiter // failures per source
	client *bucketLimiter // failures per claimed client
	pair   *bucketLimiter // failures per known (source, client)
	known  knownSources
}

func newBruteForceGuard(cfg Config) *bruteForceGuard {
	return &bruteForceGuard{
		source: newBucketLimiter(cfg.SourceFailureRate, cfg.SourceFailureBurst),
		client: newBucketLimiter(cfg.ClientFailureRate, cfg.ClientFailureBurst),
		pair:   newBucketLimiter(cfg.ClientFailureRate, cfg.ClientFailureBurst),
		known:  knownSources{m: make(map[string]int64)},
	}
}

// pairKey is the key of a (source, client) pair.
func pairKey(source, client string) string { return source + "\x00" + client }

// admit reports whether the credentials of a request from source that
// names client (empty: none) are to be checked; if not, it returns how
// long until they may be.
func (g *bruteForceGuard) admit(source, client string, now time.Time) (bool, time.Duration) {
	if client == "" {
		return true, 0
	}
	if pk := pairKey(source, client); g.known.has(pk, now) {
		if ok, _ := g.pair.check(pk, now); ok {
			return true, 0
		}
	}
	return g.client.check(client, now)
}

// failed charges a failed authentication from source naming client (empty:
// none; charge no client when it does not exist). It reports whether the
// source is over its budget, and how long until it is not.
func (g *bruteForceGuard) failed(source, client string, clientExists bool, now time.Time) (bool, time.Duration) {
	if client != "" && clientExists {
		g.client.take(client, now)
		if pk := pairKey(source, client); g.known.has(pk, now) {
			g.pair.take(pk, now)
		}
	}
	ok, retry := g.source.take(source, now)
	return !ok, retry
}

// succeeded marks source as known for client.
func (g *bruteForceGuard) succeeded(source, client string, now time.Time) {
	if client != "" {
		g.known.add(pairKey(source, client), now)
	}
}

func (g *bruteForceGuard) sweep(now time.Time) {
	g.source.sweep(now)
	g.client.sweep(now)
	g.pair.sweep(now)
	g.known.sweep(now)
}

// knownSources remembers when each (source, client) pair last
// authenticated. Only successful authentications add to it, so its size
// follows the legitimate traffic; it is bounded all the same.
type knownSources struct {
	mu sync.Mutex
	m  map[string]int64 // pair key → last success, Unix nanoseconds
}

func (k *knownSources) has(pk string, now time.Time) bool {
	k.mu.Lock()
	at, ok := k.m[pk]
	k.mu.Unlock()
	return ok && now.UnixNano()-at < int64(knownSourceTTL)
}

func (k *knownSources) add(pk string, now time.Time) {
	n := now.UnixNano()
	k.mu.Lock()
	defer k.mu.Unlock()
	if at, ok := k.m[pk]; ok {
		k.m[pk] = max(at, n)
		return
	}
	if len(k.m) >= maxBuckets {
		k.sweepLocked(n)
		if len(k.m) >= maxBuckets {
			// Forgetting costs the exemption only under attack.
			k.m = make(map[string]int64)
		}
	}
	k.m[pk] = n
}

func (k *knownSources) sweep(now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sweepLocked(now.UnixNano())
}

func (k *knownSources) sweepLocked(now int64) {
	for pk, at := range k.m {
		if now-at >= int64(knownSourceTTL) {
			delete(k.m, pk)
		}
	}
}
