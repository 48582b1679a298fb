package synchub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/store"
)

// Run finds changes and fans them out until ctx is done: at once after
// [Hub.Notify], when the CA's bundle changes, and every PollInterval for
// changes made elsewhere. Every minute it also prunes tombstones older
// than the retention. Failures are logged and retried at the next poll.
// When ctx is done it ends every stream with [ErrClosed] and returns nil;
// Run must be called at most once.
func (h *Hub) Run(ctx context.Context) error {
	defer h.close()
	poll := time.NewTicker(h.cfg.PollInterval)
	defer poll.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	caChanged := h.caChanged
	for {
		bundleChanged := false
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake:
		case <-poll.C:
		case <-caChanged:
			caChanged = h.cfg.Bundle.Changed()
			bundleChanged = true
		case <-prune.C:
			h.pruneTombstones(ctx)
			continue
		}
		if err := h.round(ctx, bundleChanged); err != nil && ctx.Err() == nil {
			h.cfg.Logger.ErrorContext(ctx, "sync: fan-out failed; retrying at the next poll", "error", err)
		}
	}
}

// close ends every stream and refuses new ones.
func (h *Hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.drop(s, ErrClosed)
	}
}

func (h *Hub) pruneTombstones(ctx context.Context) {
	now := h.cfg.Clock()
	n, err := h.cfg.Tombstones.PruneEntryTombstones(ctx, now, now.Add(-h.cfg.TombstoneRetention))
	switch {
	case err != nil && ctx.Err() == nil:
		h.cfg.Logger.ErrorContext(ctx, "sync: prune tombstones", "error", err)
	case n > 0:
		h.cfg.Logger.DebugContext(ctx, "sync: pruned tombstones", "count", n)
	}
}

// changes is what one round found.
type changes struct {
	rev, revocRev int64
	entries       []store.Entry
	tombs         []store.EntryTombstone
	revocations   []agentproto.Revocation
	revocationJWS string
	bundle        json.RawMessage // nil: unchanged
	federated     map[string]json.RawMessage
	fedChanged    map[string]json.RawMessage
	fedRemoved    []string
	policies      *agentproto.PolicySet // nil: unchanged
	tokenKeys     tokenKeys
	keysChanged   bool
	trust         *agentproto.TrustUpdate // nil: unchanged
	trustRev      int64
}

// round reads what changed since the last round and fans it out. Only Run
// calls it, so the revisions it reads without the lock change only here.
func (h *Hub) round(ctx context.Context, bundleChanged bool) error {
	c, err := h.collect(ctx, bundleChanged)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fanOutEntries(c)
	h.fanOutGlobal(c)
	h.rev, h.revocRev = c.rev, c.revocRev
	if c.bundle != nil {
		h.bundle = c.bundle
	}
	h.federated = c.federated
	if c.policies != nil {
		h.policies = c.policies
	}
	h.tokenKeys = c.tokenKeys
	h.trustRev = c.trustRev
	h.noteStatsLocked()
	return nil
}

// collect reads the changes after the hub's revisions.
func (h *Hub) collect(ctx context.Context, bundleChanged bool) (*changes, error) {
	c := &changes{rev: h.rev, revocRev: h.revocRev}
	cur, err := h.cfg.Entries.Revision(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	if cur > h.rev {
		f := store.ChangeFilter{After: h.rev, UpTo: cur}
		if c.entries, err = h.readStoreEntries(ctx, f); err != nil {
			return nil, err
		}
		if c.tombs, err = h.readTombstones(ctx, f); err != nil {
			return nil, err
		}
		c.rev = cur
	}
	rcur, err := h.cfg.Revocations.RevocationRevision(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	if rcur > h.revocRev {
		if c.revocations, err = h.readRevocations(ctx, h.revocRev, rcur); err != nil {
			return nil, err
		}
		if len(c.revocations) > 0 {
			if c.revocationJWS, err = h.signBatch(agentproto.RevocationBatch{Revision: rcur, Entries: c.revocations}); err != nil {
				return nil, err
			}
		}
		c.revocRev = rcur
	}
	if bundleChanged {
		b, err := marshalBundle(h.cfg.Bundle.Bundle())
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(b, h.bundle) {
			c.bundle = b
		}
	}
	if c.federated, err = h.readFederated(); err != nil {
		return nil, err
	}
	for td, b := range c.federated {
		if !bytes.Equal(b, h.federated[td]) {
			if c.fedChanged == nil {
				c.fedChanged = map[string]json.RawMessage{}
			}
			c.fedChanged[td] = b
		}
	}
	for td := range h.federated {
		if _, ok := c.federated[td]; !ok {
			c.fedRemoved = append(c.fedRemoved, td)
		}
	}
	slices.Sort(c.fedRemoved)
	if err := h.collectPolicies(ctx, c); err != nil {
		return nil, err
	}
	c.tokenKeys, c.keysChanged = h.readTokenKeys(h.tokenKeys)
	h.collectTrust(c)
	return c, nil
}

// readStoreEntries reads every entry change f selects, as stored.
func (h *Hub) readStoreEntries(ctx context.Context, f store.ChangeFilter) ([]store.Entry, error) {
	var out []store.Entry
	f.Limit = pageLimit
	for {
		page, err := h.cfg.Entries.ListEntryChanges(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("sync: read entries: %w", err)
		}
		out = append(out, page...)
		if len(page) < pageLimit {
			return out, nil
		}
		f.After = page[len(page)-1].Revision
	}
}

// parentChanges are the entry changes that concern the agents of one
// parent.
type parentChanges struct {
	entries []agentproto.Entry
	tombs   []store.EntryTombstone
}

// fanOutEntries queues each entry change to the streams of the agents it
// concerns: those of its parent (old parent, for a tombstone), or all for
// an entry without a parent. Each stream gets at most one message per
// round, and the work is proportional to the changes and the streams they
// concern. An entry served by no agent (no parent, no any-agent opt-in)
// is sent to all as deleted. h.mu must be held.
func (h *Hub) fanOutEntries(c *changes) {
	if len(c.entries) == 0 && len(c.tombs) == 0 {
		return
	}
	groups := map[string]*parentChanges{}
	group := func(parent string) *parentChanges {
		g := groups[parent]
		if g == nil {
			g = &parentChanges{}
			groups[parent] = g
		}
		return g
	}
	for _, e := range c.entries {
		if !servedByAgents(e) {
			// Served by no agent: to the agents, it is gone.
			g := group("")
			g.tombs = append(g.tombs, store.EntryTombstone{EntryID: e.ID, Revision: e.Revision})
			continue
		}
		g := group(e.ParentID)
		g.entries = append(g.entries, entryToWire(e))
	}
	for _, t := range c.tombs {
		g := group(t.ParentID)
		g.tombs = append(g.tombs, t)
	}
	common := groups[""]
	var commonMsg *agentproto.Message
	if common != nil {
		commonMsg = &agentproto.Message{Revision: c.rev, Entries: common.entries, Deleted: deletedIDs(common.tombs, common.entries)}
	}
	for parent, g := range groups {
		if parent == "" {
			continue
		}
		subs := h.byAgent[parent]
		if len(subs) == 0 {
			continue
		}
		m := &agentproto.Message{Revision: c.rev, Entries: g.entries, Deleted: deletedIDs(g.tombs, g.entries)}
		if common != nil {
			entries := append(slices.Clip(g.entries), common.entries...)
			m = &agentproto.Message{Revision: c.rev, Entries: entries, Deleted: deletedIDs(append(slices.Clip(g.tombs), common.tombs...), entries)}
		}
		for s := range subs {
			h.send(s, m)
		}
	}
	if commonMsg == nil {
		return
	}
	for s := range h.subs {
		if g := groups[s.agent]; g == nil {
			h.send(s, commonMsg)
		}
	}
}

// fanOutGlobal queues the changes that concern every stream (bundles,
// revocations, policies, token keys, trust states) and ends the streams of agents whose SPIFFE ID was
// revoked. h.mu must be held.
func (h *Hub) fanOutGlobal(c *changes) {
	if c.bundle != nil || c.revocationJWS != "" || len(c.fedChanged) > 0 || len(c.fedRemoved) > 0 || c.policies != nil || c.keysChanged ||
		c.trust != nil {
		m := &agentproto.Message{Revision: c.rev, Bundle: c.bundle, Federated: c.fedChanged,
			FederatedRemoved: c.fedRemoved, Revocations: c.revocationJWS, Policies: c.policies, Trust: c.trust}
		if c.keysChanged {
			c.tokenKeys.fill(m)
		}
		for _, s := range slices.Collect(maps.Keys(h.subs)) {
			h.send(s, m)
		}
	}
	for _, r := range c.revocations {
		if r.Kind != revocation.KindSPIFFEID.String() {
			continue
		}
		for s := range h.byAgent[r.Value] {
			if s.issuedAt <= r.RevokedAt.Unix() {
				h.drop(s, errEvicted)
			}
		}
	}
}
