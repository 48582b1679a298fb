package trust

import (
	"slices"
	"time"

	"github.com/kith-dev/kith/internal/policy"
)

// Table is the compact form of the engine's trust states that travels to
// the data plane (a sync message field, then a data-plane feed field):
// one short entry per identity, the level left out as it follows from the
// score ([LevelOf]). An identity not listed has Default. About 60 bytes
// of JSON per identity; deltas are Entries of [Change]s ([Change.Entry]).
type Table struct {
	// Time is the engine's clock when the table was taken.
	Time time.Time `json:"time"`
	// Default is the state of identities not listed (Starting("")).
	Default int `json:"default"`
	// Entries are the tracked identities, sorted by identity.
	Entries []Entry `json:"entries"`
}

// Entry is one identity's trust in a [Table].
type Entry struct {
	// Identity is the caller's SPIFFE ID (or client ID).
	Identity string `json:"id"`
	// Score is its trust score.
	Score int `json:"s"`
	// Signals name what weighs on it.
	Signals []string `json:"sig,omitempty"`
}

// Trust returns the entry as policy sees it.
func (en *Entry) Trust() policy.Trust {
	return policy.Trust{Score: en.Score, Level: LevelOf(en.Score).String(), Signals: en.Signals}
}

// Entry returns the table entry of the changed state, for a delta push.
func (c *Change) Entry() Entry {
	return Entry{Identity: c.Identity, Score: c.To.Score, Signals: c.To.Signals}
}

// Table returns every tracked identity's state at the engine's clock.
func (e *Engine) Table() Table {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Clock()
	sec := secOf(now.UnixMilli())
	t := Table{Time: now.UTC(), Default: Strength(""), Entries: make([]Entry, 0, len(e.index))}
	for id, i := range e.index {
		cs := e.at(i)
		tr := e.trustOf(i, cs, e.score(i, cs, max(sec, cs.last)))
		t.Entries = append(t.Entries, Entry{Identity: id, Score: tr.Score, Signals: tr.Signals})
	}
	slices.SortFunc(t.Entries, func(a, b Entry) int {
		switch {
		case a.Identity < b.Identity:
			return -1
		case a.Identity > b.Identity:
			return 1
		}
		return 0
	})
	return t
}

// Index answers trust lookups from a [Table]: it is what a data-plane
// view holds, and it implements enforce.TrustSource. It is immutable:
// With returns a new one, so a view can swap it atomically.
type Index struct {
	def policy.Trust
	m   map[string]policy.Trust
}

// NewIndex returns the index of t. A zero Default means Starting("").
func NewIndex(t Table) *Index {
	def := Starting("")
	if t.Default > 0 {
		def = policy.Trust{Score: t.Default, Level: LevelOf(t.Default).String()}
	}
	x := &Index{def: def, m: make(map[string]policy.Trust, len(t.Entries))}
	for i := range t.Entries {
		x.m[t.Entries[i].Identity] = t.Entries[i].Trust()
	}
	return x
}

// Trust returns caller's trust: its entry, or the table's default. A nil
// Index gives every caller Starting("").
func (x *Index) Trust(caller string) policy.Trust {
	if x == nil {
		return Starting("")
	}
	if tr, ok := x.m[caller]; ok {
		return tr
	}
	return x.def
}

// Len returns the number of identities listed.
func (x *Index) Len() int {
	if x == nil {
		return 0
	}
	return len(x.m)
}

// With returns a copy of x with entries applied (a delta push). It copies
// the map: for large deltas, build a new index from a full Table instead.
func (x *Index) With(entries ...Entry) *Index {
	y := &Index{def: Starting(""), m: make(map[string]policy.Trust, x.Len()+len(entries))}
	if x != nil {
		y.def = x.def
		for k, v := range x.m {
			y.m[k] = v
		}
	}
	for i := range entries {
		y.m[entries[i].Identity] = entries[i].Trust()
	}
	return y
}
