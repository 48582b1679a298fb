package oauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/store"
)

// maxCached bounds each map of the caches; a full map is emptied, which
// only costs store reads.
const maxCached = 50_000

// cached is one cache slot: a value or the error reading it, and when it
// was read.
type cached[V any] struct {
	v   V
	err error
	at  time.Time
}

// ttlMap is a map whose values are reused for ttl after they were read.
type ttlMap[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]cached[V]
}

func (t *ttlMap[K, V]) get(k K, now time.Time, ttl time.Duration) (cached[V], bool) {
	t.mu.RLock()
	c, ok := t.m[k]
	t.mu.RUnlock()
	if !ok || now.Sub(c.at) >= ttl || now.Before(c.at) {
		return c, false
	}
	return c, true
}

func (t *ttlMap[K, V]) put(k K, c cached[V]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.putLocked(k, c)
}

// putAt stores c only if the cache generation is still gen, the one before
// c was read: a value read before an invalidation is not kept after it.
func (t *ttlMap[K, V]) putAt(k K, c cached[V], gen *atomic.Uint64, at uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if gen.Load() == at {
		t.putLocked(k, c)
	}
}

func (t *ttlMap[K, V]) putLocked(k K, c cached[V]) {
	if t.m == nil || len(t.m) >= maxCached {
		t.m = make(map[K]cached[V])
	}
	t.m[k] = c
}

func (t *ttlMap[K, V]) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m = nil
}

// clientCache reads clients and their entries through a short-lived
// cache, so that the token endpoint does not read the store on every
// request. Misses, "not found" included, are cached too.
//
// invalidate empties it: every value read before is dropped, including
// one being read while it runs (the generation, gen, tells them apart).
// With a change poll (vouched), cached entries are used only while the
// last poll vouches for them.
type clientCache struct {
	store ClientStore
	reg   Registry
	ttl   time.Duration
	clock func() time.Time
	// polled is set when a change poll runs: cached entries are then used
	// only until vouchedUntil (Unix nanoseconds).
	polled       bool
	vouchedUntil atomic.Int64
	gen          atomic.Uint64

	clients  ttlMap[ClientID, *clientRecord]
	entries  ttlMap[string, registry.Entry]
	bySPIFFE ttlMap[spiffeid.ID, []ClientID]
}

func newClientCache(st ClientStore, reg Registry, ttl time.Duration, clock func() time.Time, polled bool) *clientCache {
	return &clientCache{store: st, reg: reg, ttl: ttl, clock: clock, polled: polled}
}

// generation returns the cache's generation, which invalidate advances.
func (c *clientCache) generation() uint64 { return c.gen.Load() }

// invalidate forgets everything cached.
func (c *clientCache) invalidate() {
	c.gen.Add(1)
	c.clients.clear()
	c.entries.clear()
	c.bySPIFFE.clear()
}

// vouch lets cached entries be used until t.
func (c *clientCache) vouch(t time.Time) { c.vouchedUntil.Store(t.UnixNano()) }

// client returns the client id, or an error wrapping [ErrNotFound].
func (c *clientCache) client(ctx context.Context, id ClientID) (*clientRecord, error) {
	now := c.clock()
	if v, ok := c.clients.get(id, now, c.ttl); ok {
		return v.v, v.err
	}
	gen := c.gen.Load()
	rec, err := c.store.GetOAuthClient(ctx, string(id))
	var cr *clientRecord
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = fmt.Errorf("client %s: %w", recordedClaim(string(id)), ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("read client: %w", err) // not cached
	default:
		cr, err = fromStore(rec)
	}
	c.clients.putAt(id, cached[*clientRecord]{v: cr, err: err, at: now}, &c.gen, gen)
	return cr, err
}

// entry returns the registry entry id; the registry's ErrNotFound passes
// through.
func (c *clientCache) entry(ctx context.Context, id string) (registry.Entry, error) {
	now := c.clock()
	if !c.polled || now.UnixNano() < c.vouchedUntil.Load() {
		if v, ok := c.entries.get(id, now, c.ttl); ok {
			return v.v, v.err
		}
	}
	return c.freshEntry(ctx, id)
}

// freshEntry reads the entry id from the registry, past the cache, and
// caches what it read. The registry's ErrNotFound passes through.
func (c *clientCache) freshEntry(ctx context.Context, id string) (registry.Entry, error) {
	now := c.clock()
	gen := c.gen.Load()
	e, err := c.reg.Get(ctx, id)
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		return registry.Entry{}, fmt.Errorf("read entry: %w", err)
	}
	c.entries.putAt(id, cached[registry.Entry]{v: e, err: err, at: now}, &c.gen, gen)
	return e, err
}

// clientsOf returns the clients bound to an entry whose SPIFFE ID is id.
func (c *clientCache) clientsOf(ctx context.Context, id spiffeid.ID) ([]*clientRecord, error) {
	now := c.clock()
	v, ok := c.bySPIFFE.get(id, now, c.ttl)
	if !ok {
		gen := c.gen.Load()
		ids, err := c.findClientIDs(ctx, id)
		if err != nil {
			return nil, err
		}
		v = cached[[]ClientID]{v: ids, at: now}
		c.bySPIFFE.putAt(id, v, &c.gen, gen)
	}
	out := make([]*clientRecord, 0, len(v.v))
	for _, cid := range v.v {
		cr, err := c.client(ctx, cid)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, cr)
	}
	return out, nil
}

// findClientIDs reads the IDs of the clients bound to the entries with
// SPIFFE ID id.
func (c *clientCache) findClientIDs(ctx context.Context, id spiffeid.ID) ([]ClientID, error) {
	entries, err := c.reg.FindBySPIFFEID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("find entries of %s: %w", id, err)
	}
	var ids []ClientID
	for _, e := range entries {
		after := ""
		for {
			page, err := c.store.ListOAuthClients(ctx, store.OAuthClientFilter{EntryID: e.ID, After: after, Limit: 1000})
			if err != nil {
				return nil, fmt.Errorf("list clients of entry %s: %w", e.ID, err)
			}
			for _, rec := range page {
				ids = append(ids, ClientID(rec.ID))
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	return ids, nil
}

// forget drops what the cache holds about client id and the SPIFFE ID
// lookups, after a change made on this replica.
func (c *clientCache) forget(id ClientID) {
	c.clients.put(id, cached[*clientRecord]{}) // expired at once: at is zero
	c.bySPIFFE.clear()
}

// bundleTTL is how long a bundle read from the CA is reused.
const bundleTTL = time.Second

// bundleCache holds the trust domain's bundle for a second at a time:
// (*ca.CA).Bundle returns a fresh copy on every call. It serves it to
// package authn's verifiers as an X.509 and a JWT bundle source of the
// trust domain alone, without copying the authorities on every call.
type bundleCache struct {
	src   Bundles
	td    spiffeid.TrustDomain
	clock func() time.Time

	mu   sync.Mutex
	b    *spiffebundle.Bundle
	x509 *x509bundle.Bundle
	jwt  *jwtbundle.Bundle
	at   time.Time
}

func newBundleCache(src Bundles, td spiffeid.TrustDomain, clock func() time.Time) *bundleCache {
	return &bundleCache{src: src, td: td, clock: clock}
}

// get returns the current bundle. Callers must not modify it.
func (c *bundleCache) get() *spiffebundle.Bundle {
	b, _, _ := c.current()
	return b
}

// current returns the current bundle and its X.509 and JWT parts.
func (c *bundleCache) current() (*spiffebundle.Bundle, *x509bundle.Bundle, *jwtbundle.Bundle) {
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.b == nil || now.Sub(c.at) >= bundleTTL || now.Before(c.at) {
		c.b, c.at = c.src.Bundle(), now
		c.x509, c.jwt = c.b.X509Bundle(), c.b.JWTBundle()
	}
	return c.b, c.x509, c.jwt
}

// version returns the sequence number of the current bundle.
func (c *bundleCache) version() uint64 {
	seq, _ := c.get().SequenceNumber()
	return seq
}

// GetX509BundleForTrustDomain returns the X.509 authorities of the trust
// domain, or an error for any other trust domain. It makes the cache an
// x509bundle.Source. The bundle must not be modified.
func (c *bundleCache) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if td != c.td {
		return nil, fmt.Errorf("no X.509 bundle for trust domain %q", td)
	}
	_, x, _ := c.current()
	return x, nil
}

// GetJWTBundleForTrustDomain returns the JWT authorities of the trust
// domain, or an error for any other trust domain. It makes the cache a
// jwtbundle.Source. The bundle must not be modified.
func (c *bundleCache) GetJWTBundleForTrustDomain(td spiffeid.TrustDomain) (*jwtbundle.Bundle, error) {
	if td != c.td {
		return nil, fmt.Errorf("no JWT bundle for trust domain %q", td)
	}
	_, _, j := c.current()
	return j, nil
}
