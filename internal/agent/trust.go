package agent

import (
	"maps"
	"slices"

	"github.com/kith-dev/kith/internal/agentproto"
)

// trustData is the agent's copy of the callers' trust states the server's
// behavioural-trust engine pushes, kept to serve the data-plane feed: a
// base table, replaced by each full table the server sends, and the
// changes since, each at the feed version that brought it. A feed reader
// that holds the base gets the changes after its version; one that holds
// an older base gets the whole table. The base is never modified once
// built, and the log only appended to, so a feedState may hold both
// without a copy. Guarded by state.mu.
type trustData struct {
	base *trustBase // nil until the server sent a table
	log  []trustChange
}

// trustBase is one full table.
type trustBase struct {
	def     int
	entries map[string]agentproto.TrustEntry
}

// trustChange is one changed state, at the feed version that brought it.
type trustChange struct {
	version int64
	entry   agentproto.TrustEntry
}

// minTrustCompaction is the fewest logged changes before the log is
// folded into a new base (see trustData.apply).
const minTrustCompaction = 1024

// apply records u at feed version v: a full table becomes the base, a
// delta is logged. When the log grows past the base (and
// minTrustCompaction), it is folded into a new base, so that memory stays
// in proportion to the callers; readers then get the whole table once.
func (t *trustData) apply(u *agentproto.TrustUpdate, v int64) {
	if u.Full || t.base == nil {
		b := &trustBase{def: u.Default, entries: make(map[string]agentproto.TrustEntry, len(u.Entries))}
		if !u.Full && t.base != nil {
			b.def = t.base.def
		}
		for _, e := range u.Entries {
			b.entries[e.ID] = e
		}
		t.base, t.log = b, nil
		return
	}
	for _, e := range u.Entries {
		t.log = append(t.log, trustChange{version: v, entry: e})
	}
	if len(t.log) > max(minTrustCompaction, len(t.base.entries)) {
		b := &trustBase{def: t.base.def, entries: maps.Clone(t.base.entries)}
		for _, c := range t.log {
			b.entries[c.entry.ID] = c.entry
		}
		t.base, t.log = b, nil
	}
}

// table returns the whole table, base and changes, sorted by identity;
// nil when there is none.
func (t *trustData) table() *agentproto.TrustUpdate {
	if t.base == nil {
		return nil
	}
	m := t.base.entries
	if len(t.log) > 0 {
		m = maps.Clone(m)
		for _, c := range t.log {
			m[c.entry.ID] = c.entry
		}
	}
	u := &agentproto.TrustUpdate{Full: true, Default: t.base.def, Entries: make([]agentproto.TrustEntry, 0, len(m))}
	for _, e := range m {
		u.Entries = append(u.Entries, e)
	}
	slices.SortFunc(u.Entries, func(a, b agentproto.TrustEntry) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return u
}

// feedTrust is the trust part of a feedState.
type feedTrust struct {
	base *trustBase
	log  []trustChange // the log as it was; never appended to through this
}

// capture returns the trust part of the feed now.
func (t *trustData) capture() feedTrust {
	return feedTrust{base: t.base, log: slices.Clip(t.log)}
}

// full returns the whole table of f, nil without one.
func (f feedTrust) full() *agentproto.TrustUpdate {
	return (&trustData{base: f.base, log: f.log}).table()
}

// delta returns what brings a reader from prev to f: the changes logged
// since, each identity once with its latest state; the whole table if
// the base changed; nil when nothing changed.
func (f feedTrust) delta(prev feedTrust) *agentproto.TrustUpdate {
	switch {
	case f.base == nil:
		return nil
	case f.base != prev.base:
		return f.full()
	case len(f.log) == len(prev.log):
		return nil
	}
	changed := f.log[len(prev.log):]
	u := &agentproto.TrustUpdate{Entries: make([]agentproto.TrustEntry, 0, len(changed))}
	seen := make(map[string]int, len(changed))
	for _, c := range changed {
		if i, ok := seen[c.entry.ID]; ok {
			u.Entries[i] = c.entry
			continue
		}
		seen[c.entry.ID] = len(u.Entries)
		u.Entries = append(u.Entries, c.entry)
	}
	return u
}

// checkTrust keeps the entries of u the agent can serve: an identity, a
// score within 0 to 1000. It returns the others' count.
func checkTrust(u *agentproto.TrustUpdate) (skipped int) {
	kept := u.Entries[:0]
	for _, e := range u.Entries {
		if e.ID == "" || e.Score < 0 || e.Score > 1000 {
			skipped++
			continue
		}
		kept = append(kept, e)
	}
	u.Entries = kept
	if u.Default < 0 || u.Default > 1000 {
		u.Default = 0
	}
	return skipped
}
