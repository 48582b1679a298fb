package trusthost

import (
	"sort"

	"github.com/kith-dev/kith/internal/agentproto"
)

// maxLog bounds the changes kept for the sync hub beyond the callers
// tracked; a hub further behind gets the whole table.
const maxLog = 4096

// TrustTable returns the engine's whole table in wire form and a
// revision it reflects at least. With TrustChanges it makes the Host the
// sync hub's synchub.TrustSource.
func (h *Host) TrustTable() (*agentproto.TrustUpdate, int64) {
	h.mu.Lock()
	rev := h.rev
	h.mu.Unlock()
	t := h.engine.Table() // after reading rev: it holds every change up to rev
	u := &agentproto.TrustUpdate{Full: true, Default: t.Default, Entries: make([]agentproto.TrustEntry, len(t.Entries))}
	for i, e := range t.Entries {
		u.Entries[i] = agentproto.TrustEntry{ID: e.Identity, Score: e.Score, Signals: e.Signals}
	}
	return u, rev
}

// TrustChanges returns the states changed after revision after, each
// once with its latest value, and the revision they bring the reader to;
// ok is false when those changes are no longer kept.
func (h *Host) TrustChanges(after int64) ([]agentproto.TrustEntry, int64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if after < h.floor || after > h.rev {
		return nil, h.rev, false
	}
	i := sort.Search(len(h.log), func(i int) bool { return h.log[i].rev > after })
	changed := h.log[i:]
	out := make([]agentproto.TrustEntry, 0, len(changed))
	seen := make(map[string]int, len(changed))
	for _, c := range changed {
		if j, ok := seen[c.entry.ID]; ok {
			out[j] = c.entry
			continue
		}
		seen[c.entry.ID] = len(out)
		out = append(out, c.entry)
	}
	return out, h.rev, true
}

// trimLog drops the oldest half of the log once it outgrows maxLog and
// the callers tracked. h.mu must be held.
func (h *Host) trimLog(callers int64) {
	if len(h.log) <= max(maxLog, int(callers)) {
		return
	}
	drop := len(h.log) / 2
	h.floor = h.log[drop-1].rev
	h.log = append(h.log[:0:0], h.log[drop:]...)
}

// resetLog makes every reader take the whole table: after a snapshot was
// restored, which changes states without a Change. h.mu must be held.
func (h *Host) resetLog() {
	h.rev++
	h.floor = h.rev
	h.log = nil
}
