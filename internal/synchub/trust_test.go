package synchub_test

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/synchub"
)

// fakeTrust is a TrustSource: a table and a log of changes.
type fakeTrust struct {
	mu      sync.Mutex
	table   map[string]agentproto.TrustEntry
	log     []agentproto.TrustEntry // change i is at revision i+1
	horizon int64                   // changes at or before it are forgotten
}

func (f *fakeTrust) TrustTable() (*agentproto.TrustUpdate, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := &agentproto.TrustUpdate{Full: true, Entries: []agentproto.TrustEntry{}}
	for _, e := range f.table {
		u.Entries = append(u.Entries, e)
	}
	return u, int64(len(f.log))
}

func (f *fakeTrust) TrustChanges(after int64) ([]agentproto.TrustEntry, int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if after < f.horizon {
		return nil, 0, false
	}
	return append([]agentproto.TrustEntry(nil), f.log[after:]...), int64(len(f.log)), true
}

func (f *fakeTrust) set(id string, score int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := agentproto.TrustEntry{ID: id, Score: score}
	f.table[id] = e
	f.log = append(f.log, e)
}

func TestTrustTableFirstThenChanges(t *testing.T) {
	checkLeaks(t)
	src := &fakeTrust{table: map[string]agentproto.TrustEntry{}}
	src.set("spiffe://example.org/a", 900)
	e := newEnv(t, func(c *synchub.Config) { c.Trust = src })

	s := e.open(t, synchub.Subscription{Agent: agentID(1)}, nil)
	want := &agentproto.TrustUpdate{Full: true, Entries: []agentproto.TrustEntry{{ID: "spiffe://example.org/a", Score: 900}}}
	if diff := cmp.Diff(want, s.next(t).Trust); diff != "" {
		t.Errorf("first message's trust (-want +got):\n%s", diff)
	}

	src.set("spiffe://example.org/b", 300)
	src.set("spiffe://example.org/b", 150)
	e.hub.Notify()
	want = &agentproto.TrustUpdate{Entries: []agentproto.TrustEntry{{ID: "spiffe://example.org/b", Score: 300}, {ID: "spiffe://example.org/b", Score: 150}}}
	if diff := cmp.Diff(want, s.next(t).Trust); diff != "" {
		t.Errorf("delta (-want +got):\n%s", diff)
	}

	// A source that forgot the changes since the hub's revision sends the
	// whole table again.
	src.set("spiffe://example.org/c", 10)
	src.mu.Lock()
	src.horizon = int64(len(src.log))
	src.mu.Unlock()
	e.hub.Notify()
	if m := s.next(t); m.Trust == nil || !m.Trust.Full || len(m.Trust.Entries) != 3 {
		t.Errorf("after the horizon: trust = %+v, want the whole table", m.Trust)
	}

	// A round without a change of trust sends none.
	e.createEntry(t, "unrelated", agentID(1))
	e.hub.Notify()
	if m := s.next(t); m.Trust != nil {
		t.Errorf("entry change carried trust %+v", m.Trust)
	}
}
