package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/authn"
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
	mintX509(ctx context.Context, req agentproto.X509SVIDRequest) (*agentproto.X509SVIDResponse, error)
}

// x509Record is one workload SVID the agent holds.
type x509Record struct {
	entry    agentproto.Entry // as it was when minted
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
	// store, if set, keeps the SVIDs across restarts (see svidStore).
	store *svidStore
	// online, if set, reports whether the server can be reached: SVIDs
	// no workload needs are dropped only then, since they could not be
	// minted again otherwise. Nil means always.
	online func() bool
	// changed is notified when the watchers change (see Agent.changed).
	changed *broadcaster
}

// svidCache holds the X509-SVIDs of the entries that workloads on the node
// need: minted on first need, renewed at half-life, replaced when revoked,
// dropped when no workload needed them for a while.
type svidCache struct {
	svidCacheConfig
	mintMu sync.Mutex // one mint at a time; held across the request
	saveMu sync.Mutex // one write to the store at a time

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
func (c *svidCache) get(ctx context.Context, entries []agentproto.Entry) ([]*x509Record, error) {
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
func (c *svidCache) lookup(entries []agentproto.Entry, now time.Time, strict bool) (have []*x509Record, need []agentproto.Entry) {
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
func (c *svidCache) stale(r *x509Record, e agentproto.Entry) string {
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
func (c *svidCache) mint(ctx context.Context, entries []agentproto.Entry, reason string) error {
	for chunk := range slices.Chunk(entries, maxMintBatch) {
		if err := c.mintBatch(ctx, chunk, reason); err != nil {
			return err
		}
	}
	return nil
}

func (c *svidCache) mintBatch(ctx context.Context, entries []agentproto.Entry, reason string) error {
	keys := make(map[string]*ecdsa.PrivateKey, len(entries))
	byID := make(map[string]agentproto.Entry, len(entries))
	var req agentproto.X509SVIDRequest
	for _, e := range entries {
		key, csr, err := newKey()
		if err != nil {
			return err
		}
		keys[e.ID], byID[e.ID] = key, e
		req.Requests = append(req.Requests, agentproto.X509SVIDRequestItem{EntryID: e.ID, CSR: csr})
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
	if len(fresh) > 0 || len(resp.Errors) > 0 {
		c.persist()
	}
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
func newRecord(e agentproto.Entry, s agentproto.X509SVID, key *ecdsa.PrivateKey, bundle *spiffebundle.Bundle, now time.Time) (*x509Record, error) {
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
	c.persist()
	c.metrics.svidsHeld.Set(0)
	c.state.changes.notify()
}

// persist writes the SVIDs held to the store, if there is one. Writes are
// one at a time, each of the records as they are when it starts, so the
// last write holds the latest records. A failure is logged: the SVIDs are
// then served from memory, and lost at a restart.
func (c *svidCache) persist() {
	if c.store == nil {
		return
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	out := make([]persistedSVID, 0, len(c.records))
	for _, r := range c.records {
		out = append(out, persistedSVID{Entry: r.entry, Chain: r.chainDER, Key: r.keyDER})
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b persistedSVID) int { return strings.Compare(a.Entry.ID, b.Entry.ID) })
	if err := c.store.save(c.state.trustDomain().Name(), out); err != nil {
		c.logger.Error("persist workload SVIDs: they will not survive a restart", "error", err)
	}
}

// restore takes up the SVIDs a store held at start. It keeps only those
// that chain to the trust bundle the state holds, have not expired, are
// not revoked, and whose entry the state holds as active with the same
// SPIFFE ID; it logs what it drops and why. The SVIDs kept count as used
// now, so that a workload has the idle timeout to fetch them again.
func (c *svidCache) restore(f *svidsFile) {
	now := c.clock()
	bundle := c.state.ownBundle()
	td := c.state.trustDomain()
	kept := map[string]*x509Record{}
	for _, p := range f.SVIDs {
		r, err := restoredRecord(p, c.state, bundle, now)
		switch {
		case f.TrustDomain != td.Name():
			err = fmt.Errorf("persisted for trust domain %q, the agent's is %q", f.TrustDomain, td.Name())
		case err != nil:
		case kept[p.Entry.ID] != nil:
			err = errors.New("a second SVID for the entry")
		}
		if err != nil {
			c.logger.Info("persisted workload SVID dropped", "entry_id", p.Entry.ID, "reason", err)
			continue
		}
		kept[p.Entry.ID] = r
	}
	c.mu.Lock()
	maps.Copy(c.records, kept)
	for id := range kept {
		c.lastUsed[id] = now
	}
	n := len(c.records)
	c.mu.Unlock()
	c.metrics.svidsHeld.Set(float64(n))
	if len(kept) > 0 {
		c.logger.Info("workload SVIDs restored from the data folder", "count", len(kept))
	}
	if len(kept) != len(f.SVIDs) {
		c.persist()
	}
}

// restoredRecord rebuilds the record of a persisted SVID and checks it
// against the state, as restore documents.
func restoredRecord(p persistedSVID, st *state, bundle *spiffebundle.Bundle, now time.Time) (*x509Record, error) {
	e, ok := st.entry(p.Entry.ID)
	switch {
	case !ok:
		return nil, errors.New("the entry is gone")
	case !isActive(e):
		return nil, fmt.Errorf("the entry is %s", e.Status)
	case e.SPIFFEID != p.Entry.SPIFFEID:
		return nil, errors.New("the entry's SPIFFE ID changed")
	case bundle == nil:
		return nil, errors.New("no trust bundle to verify it")
	}
	svid, err := x509svid.ParseRaw(p.Chain, p.Key)
	if err != nil {
		return nil, err
	}
	if _, _, err := x509svid.Verify(svid.Certificates, bundle, x509svid.WithTime(now)); err != nil {
		return nil, err // expired among others
	}
	if svid.ID.String() != p.Entry.SPIFFEID {
		return nil, fmt.Errorf("the SVID names %s, the entry %s", svid.ID, p.Entry.SPIFFEID)
	}
	if err := authn.CheckX509SVID(st, svid.ID, svid.Certificates[0]); err != nil {
		return nil, err
	}
	leaf := svid.Certificates[0]
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return &x509Record{entry: p.Entry, svid: svid, chainDER: p.Chain, keyDER: p.Key,
		renewAt: leaf.NotBefore.Add(jittered(life/2, 10)), bundle: bundle}, nil
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
