package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/authn"
	wire "github.com/kith-dev/kith/internal/sync"
)

// maxMintBatch caps the items of one POST /agent/v1/svids/x509.
const maxMintBatch = 100

// revokedRetry is how soon a freshly minted SVID that the revocation set
// still covers (its NotBefore is backdated to before the cut-off) is
// replaced again.
const revokedRetry = 2 * time.Second

// x509Minter signs workload X509-SVIDs; the agent implements it with POST
// /agent/v1/svids/x509.
type x509Minter interface {
	mintX509(ctx context.Context, req wire.X509SVIDRequest) (*wire.X509SVIDResponse, error)
}

// x509Record is one workload SVID the agent holds.
type x509Record struct {
	entry    wire.Entry // as it was when minted
	svid     *x509svid.SVID
	chainDER []byte // certificates, concatenated DER
	keyDER   []byte // PKCS#8
	renewAt  time.Time
	bundle   *spiffebundle.Bundle // the bundle it was last verified against
}

func (r *x509Record) leaf() *x509.Certificate { return r.svid.Certificates[0] }

// svidCacheConfig holds the dependencies of an svidCache.
type svidCacheConfig struct {
	minter  x509Minter
	state   *state
	clock   func() time.Time
	logger  *slog.Logger
	metrics *metrics
	// changed is notified when the watchers change (see Agent.changed).
	changed *broadcaster
}

// svidCache holds the X509-SVIDs of the entries that workloads on the node
// need: minted on first need, renewed at half-life, replaced when revoked,
// dropped when no workload needed them for a while.
type svidCache struct {
	svidCacheConfig
	mintMu sync.Mutex // one mint at a time; held across the request

	mu       sync.Mutex
	records  map[string]*x509Record // by entry ID
	watchers map[string]int         // entry ID → streams that need it
	lastUsed map[string]time.Time

	// passes is notified after each pass of the rotation task, for tests
	// that must know it has seen a step of the clock.
	passes *broadcaster
}

func newSVIDCache(cfg svidCacheConfig) *svidCache {
	return &svidCache{svidCacheConfig: cfg, records: map[string]*x509Record{},
		watchers: map[string]int{}, lastUsed: map[string]time.Time{}, passes: newBroadcaster()}
}

// watch registers need for entry IDs; the returned function releases it.
func (c *svidCache) watch(ids []string) (release func()) {
	c.mu.Lock()
	now := c.clock()
	for _, id := range ids {
		c.watchers[id]++
		c.lastUsed[id] = now
	}
	c.mu.Unlock()
	c.changed.notify()
	return func() {
		c.mu.Lock()
		now := c.clock()
		for _, id := range ids {
			if c.watchers[id]--; c.watchers[id] <= 0 {
				delete(c.watchers, id)
			}
			c.lastUsed[id] = now
		}
		c.mu.Unlock()
		c.changed.notify()
	}
}

// get returns unexpired SVIDs for entries, minting those it lacks (or
// holds only revoked or outdated ones of). It returns what it has together
// with the minting error, if any.
func (c *svidCache) get(ctx context.Context, entries []wire.Entry) ([]*x509Record, error) {
	now := c.clock()
	out, missing := c.lookup(entries, now, true)
	if len(missing) == 0 {
		return out, nil
	}
	c.mintMu.Lock()
	defer c.mintMu.Unlock()
	if _, missing = c.lookup(entries, c.clock(), true); len(missing) > 0 { // another caller may have minted them
		if err := c.mint(ctx, missing, "new"); err != nil {
			out, _ = c.lookup(entries, c.clock(), false)
			return out, err
		}
	}
	out, _ = c.lookup(entries, c.clock(), false)
	return out, nil
}

// lookup returns the unexpired records of entries and, if strict, the
// entries that need a (new) SVID: without a record, or whose record is
// revoked or was minted for another version of the entry.
func (c *svidCache) lookup(entries []wire.Entry, now time.Time, strict bool) (have []*x509Record, need []wire.Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range entries {
		c.lastUsed[e.ID] = now
		r, ok := c.records[e.ID]
		usable := ok && now.Before(r.leaf().NotAfter)
		if usable {
			have = append(have, r)
		}
		if strict && (!usable || c.stale(r, e) != "") {
			need = append(need, e)
		}
	}
	return have, need
}

// stale says why a record must be replaced now ("" if it need not): the
// entry changed, or the revocation set covers the SVID.
func (c *svidCache) stale(r *x509Record, e wire.Entry) string {
	if r.entry.SPIFFEID != e.SPIFFEID || r.entry.X509SVIDTTL != e.X509SVIDTTL {
		return "entry_changed"
	}
	if authn.CheckX509SVID(c.state, r.svid.ID, r.leaf()) != nil {
		return "revoked"
	}
	return ""
}

// mint asks the server for SVIDs for entries, in batches, and stores those
// it gets. Entries the server refuses lose their record.
func (c *svidCache) mint(ctx context.Context, entries []wire.Entry, reason string) error {
	for chunk := range slices.Chunk(entries, maxMintBatch) {
		if err := c.mintBatch(ctx, chunk, reason); err != nil {
			return err
		}
	}
	return nil
}

func (c *svidCache) mintBatch(ctx context.Context, entries []wire.Entry, reason string) error {
	keys := make(map[string]*ecdsa.PrivateKey, len(entries))
	byID := make(map[string]wire.Entry, len(entries))
	var req wire.X509SVIDRequest
	for _, e := range entries {
		key, csr, err := newKey()
		if err != nil {
			return err
		}
		keys[e.ID], byID[e.ID] = key, e
		req.Requests = append(req.Requests, wire.X509SVIDRequestItem{EntryID: e.ID, CSR: csr})
	}
	resp, err := c.minter.mintX509(ctx, req)
	if err != nil {
		return fmt.Errorf("mint X509-SVIDs: %w", err)
	}
	now := c.clock()
	bundle := c.state.ownBundle()
	fresh := map[string]*x509Record{}
	for _, s := range resp.SVIDs {
		e, ok := byID[s.EntryID]
		if !ok || fresh[s.EntryID] != nil {
			c.logger.Warn("mint: unexpected SVID in the answer", "entry_id", s.EntryID)
			continue
		}
		r, err := newRecord(e, s, keys[e.ID], bundle, now)
		if err != nil {
			c.logger.Error("mint: unusable SVID", "entry_id", e.ID, "error", err)
			continue
		}
		if authn.CheckX509SVID(c.state, r.svid.ID, r.leaf()) != nil {
			r.renewAt = now.Add(revokedRetry) // backdated before a SPIFFE ID cut-off
		}
		fresh[e.ID] = r
	}
	c.mu.Lock()
	for id, r := range fresh {
		c.records[id] = r
	}
	for _, ie := range resp.Errors {
		c.logger.Warn("mint: the server refused an entry", "entry_id", ie.EntryID, "reason", ie.Message)
		if _, ok := byID[ie.EntryID]; ok {
			delete(c.records, ie.EntryID)
		}
	}
	n := len(c.records)
	c.mu.Unlock()
	c.metrics.svidsHeld.Set(float64(n))
	if len(fresh) > 0 {
		c.metrics.rotations.WithLabelValues(reason).Add(float64(len(fresh)))
		c.state.changes.notify()
	}
	for _, e := range entries {
		if fresh[e.ID] == nil {
			return fmt.Errorf("mint: no SVID for entry %s", e.ID)
		}
	}
	return nil
}

// newRecord checks a minted SVID (it certifies key, names the entry's
// SPIFFE ID and chains to bundle) and schedules its renewal at half its
// lifetime, ±10%.
func newRecord(e wire.Entry, s wire.X509SVID, key *ecdsa.PrivateKey, bundle *spiffebundle.Bundle, now time.Time) (*x509Record, error) {
	if bundle == nil {
		return nil, fmt.Errorf("no bundle to verify it")
	}
	svid, err := svidFromChain(s.Chain, key, bundle, now)
	if err != nil {
		return nil, err
	}
	if svid.ID.String() != e.SPIFFEID {
		return nil, fmt.Errorf("SVID names %s, the entry %s", svid.ID, e.SPIFFEID)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	leaf := svid.Certificates[0]
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return &x509Record{entry: e, svid: svid, chainDER: bytes.Join(s.Chain, nil), keyDER: keyDER,
		renewAt: leaf.NotBefore.Add(jittered(life/2, 10)), bundle: bundle}, nil
}

// clear drops every SVID.
func (c *svidCache) clear() {
	c.mu.Lock()
	clear(c.records)
	c.mu.Unlock()
	c.metrics.svidsHeld.Set(0)
	c.state.changes.notify()
}

// stats returns the number of SVIDs held and the earliest expiry.
func (c *svidCache) stats() (n int, oldest time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.records {
		if t := r.leaf().NotAfter; oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return len(c.records), oldest
}
