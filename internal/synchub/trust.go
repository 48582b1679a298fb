package synchub

import "github.com/kith-dev/kith/internal/agentproto"

// TrustSource is the behavioural-trust engine's table of callers' trust
// states as the server holds it, with a revision that grows with every
// change; the server's trust task implements it. Both methods read
// memory only and must not call the hub: the hub calls TrustTable while
// it holds its lock, and TrustChanges at every round. The server calls
// [Hub.Notify] after a change, so that it reaches the agents at once.
type TrustSource interface {
	// TrustTable returns the whole table (Full) and the revision it
	// reflects at least.
	TrustTable() (table *agentproto.TrustUpdate, rev int64)
	// TrustChanges returns the states changed after revision after,
	// each once with its latest value, and the revision they bring the
	// reader to. ok is false when after is too old to resume from: the
	// reader needs the whole table.
	TrustChanges(after int64) (entries []agentproto.TrustEntry, rev int64, ok bool)
}

// collectTrust reads the trust states changed since the last round into
// c: the changed entries, or the whole table when the source cannot say
// what changed since.
func (h *Hub) collectTrust(c *changes) {
	c.trustRev = h.trustRev
	if h.cfg.Trust == nil {
		return
	}
	entries, rev, ok := h.cfg.Trust.TrustChanges(h.trustRev)
	switch {
	case !ok:
		c.trust, c.trustRev = h.cfg.Trust.TrustTable()
	case len(entries) > 0:
		c.trust, c.trustRev = &agentproto.TrustUpdate{Entries: entries}, rev
	default:
		c.trustRev = max(rev, h.trustRev)
	}
}

// trustTable returns the whole table for a stream's first message, nil
// without a source. h.mu must be held, so that the table is at least as
// new as what the stream's queue brings after it.
func (h *Hub) trustTable() *agentproto.TrustUpdate {
	if h.cfg.Trust == nil {
		return nil
	}
	t, _ := h.cfg.Trust.TrustTable()
	return t
}
