package synchub

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/store"
)

// snapshot is what the hub had fanned out when a stream subscribed; later
// changes reach the stream through its queue.
type snapshot struct {
	rev, revocRev int64
	bundle        json.RawMessage
	federated     map[string]json.RawMessage
	policies      *agentproto.PolicySet
	tokenKeys     tokenKeys
	trust         *agentproto.TrustUpdate // the whole table; nil without the engine
}

// pageLimit is the page size of every store read.
const pageLimit = 1000

// catchUp builds the first message of a stream: what changed for the agent
// since sub's revisions, or everything when they are zero, newer than the
// store (the store was reset) or older than the oldest tombstone. Entries
// are read as they are now, so a change the queue also brings may arrive
// twice; applying an entry twice does no harm. Revocations are read up to
// the snapshot, the queue bringing the rest.
func (h *Hub) catchUp(ctx context.Context, sub Subscription, at snapshot) (*agentproto.Message, error) {
	m := &agentproto.Message{Revision: at.rev, Bundle: at.bundle, Federated: at.federated, Policies: at.policies, Trust: at.trust}
	at.tokenKeys.fill(m)
	parents := []string{sub.Agent.String(), ""}
	full, err := h.needsFull(ctx, sub.Revision)
	if err != nil {
		return nil, err
	}
	after := sub.Revision
	if full {
		m.Full, after = true, 0
	}
	var hidden []store.EntryTombstone // entries served by no agent: gone, for the agent
	if m.Entries, hidden, err = h.readEntries(ctx, store.ChangeFilter{After: after, Parents: parents}); err != nil {
		return nil, err
	}
	if m.Full && m.Entries == nil {
		m.Entries = []agentproto.Entry{}
	}
	if !full {
		tombs, err := h.readTombstones(ctx, store.ChangeFilter{After: after, Parents: parents})
		if err != nil {
			return nil, err
		}
		m.Deleted = deletedIDs(append(tombs, hidden...), m.Entries)
	}
	if m.Revocations, err = h.catchUpRevocations(ctx, sub.Revocations, at.revocRev); err != nil {
		return nil, err
	}
	return m, nil
}

// needsFull reports whether an agent at revision rev must get the full
// state rather than a delta.
func (h *Hub) needsFull(ctx context.Context, rev int64) (bool, error) {
	if rev <= 0 {
		return true, nil
	}
	cur, err := h.cfg.Entries.Revision(ctx)
	if err != nil {
		return false, fmt.Errorf("sync: catch-up: %w", err)
	}
	horizon, err := h.cfg.Tombstones.EntryTombstoneHorizon(ctx)
	if err != nil {
		return false, fmt.Errorf("sync: catch-up: %w", err)
	}
	return rev > cur || rev < horizon, nil
}

// catchUpRevocations signs the revocations an agent at revision rev lacks,
// up to upTo: all of them when rev is zero or newer than the store. It
// returns "" when there is nothing to send.
func (h *Hub) catchUpRevocations(ctx context.Context, rev, upTo int64) (string, error) {
	full := rev <= 0
	if !full {
		cur, err := h.cfg.Revocations.RevocationRevision(ctx)
		if err != nil {
			return "", fmt.Errorf("sync: catch-up: %w", err)
		}
		full = rev > cur
	}
	after := rev
	if full {
		after = 0
	}
	entries, err := h.readRevocations(ctx, after, upTo)
	if err != nil {
		return "", err
	}
	if !full && len(entries) == 0 {
		return "", nil
	}
	return h.signBatch(agentproto.RevocationBatch{Revision: upTo, Full: full, Entries: entries})
}

// readEntries reads every entry change f selects, page by page. Entries
// served by no agent (see servedByAgents) are returned apart, as
// tombstones: an agent that held one must drop it.
func (h *Hub) readEntries(ctx context.Context, f store.ChangeFilter) ([]agentproto.Entry, []store.EntryTombstone, error) {
	var out []agentproto.Entry
	var hidden []store.EntryTombstone
	f.Limit = pageLimit
	for {
		page, err := h.cfg.Entries.ListEntryChanges(ctx, f)
		if err != nil {
			return nil, nil, fmt.Errorf("sync: read entries: %w", err)
		}
		for _, e := range page {
			if servedByAgents(e) {
				out = append(out, entryToWire(e))
			} else {
				hidden = append(hidden, store.EntryTombstone{EntryID: e.ID, Revision: e.Revision})
			}
		}
		if len(page) < pageLimit {
			return out, hidden, nil
		}
		f.After = page[len(page)-1].Revision
	}
}

// servedByAgents reports whether some agent may serve e: its parent, or
// every agent when it opted in. Others are the server's alone and are
// not sent to agents.
func servedByAgents(e store.Entry) bool { return e.ParentID != "" || e.AnyAgent }

// readTombstones reads every tombstone f selects, page by page.
func (h *Hub) readTombstones(ctx context.Context, f store.ChangeFilter) ([]store.EntryTombstone, error) {
	var out []store.EntryTombstone
	f.Limit = pageLimit
	for {
		page, err := h.cfg.Entries.ListEntryTombstones(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("sync: read tombstones: %w", err)
		}
		out = append(out, page...)
		if len(page) < pageLimit {
			return out, nil
		}
		f.After = page[len(page)-1].Revision
	}
}

// deletedIDs returns the IDs of tombs that are not in entries: an entry
// that left a parent and came back is current, not deleted.
func deletedIDs(tombs []store.EntryTombstone, entries []agentproto.Entry) []string {
	if len(tombs) == 0 {
		return nil
	}
	skip := make(map[string]bool, len(entries)+len(tombs))
	for _, e := range entries {
		skip[e.ID] = true
	}
	var out []string
	for _, t := range tombs {
		if !skip[t.EntryID] {
			skip[t.EntryID] = true
			out = append(out, t.EntryID)
		}
	}
	return out
}

// entryToWire converts a stored entry.
func entryToWire(e store.Entry) agentproto.Entry {
	return agentproto.Entry{
		ID: e.ID, SPIFFEID: e.SPIFFEID, ParentID: e.ParentID, Selectors: e.Selectors,
		X509SVIDTTL: int64(e.X509SVIDTTL.Seconds()), JWTSVIDTTL: int64(e.JWTSVIDTTL.Seconds()),
		Status: e.Status, Revision: e.Revision,
	}
}
