package synchub_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/synchub"
)

func TestStreamStartsWithFullState(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t)
	a, b := agentID(1), agentID(2)
	e.createEntry(t, "for-a", a)
	e.createEntry(t, "for-b", b)
	e.createEntry(t, "for-any", spiffeid.ID{})
	if err := e.store.PutRevocation(t.Context(), &store.Revocation{Kind: "jti", Value: "t1", RevokedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.hub.Notify()
	waitRev(t, e, 3)

	s := e.open(t, synchub.Subscription{Agent: a}, nil)
	first := s.next(t)
	if !first.Full || first.Revision != 3 {
		t.Errorf("first message: full=%v revision=%d, want full at 3", first.Full, first.Revision)
	}
	if d := cmp.Diff([]string{"for-a", "for-any"}, ids(first.Entries)); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}
	if len(first.Bundle) == 0 {
		t.Error("no bundle in the first message")
	}
	batch := decodeBatch(t, first.Revocations)
	if !batch.Full || batch.Revision != 1 || len(batch.Entries) != 1 || batch.Entries[0].Value != "t1" {
		t.Errorf("revocations = %+v, want the full set of one", batch)
	}
	s.none(t)
}

func TestStreamSendsOnlyWhatConcernsTheAgent(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t)
	a, b := agentID(1), agentID(2)
	sa := e.open(t, synchub.Subscription{Agent: a}, nil)
	sb := e.open(t, synchub.Subscription{Agent: b}, nil)
	sa.next(t)
	sb.next(t)

	e.createEntry(t, "for-b", b)
	e.hub.Notify()
	if m := sb.next(t); m.Revision != 1 || m.Full || cmp.Diff([]string{"for-b"}, ids(m.Entries)) != "" {
		t.Errorf("b got %+v", m)
	}
	e.createEntry(t, "for-all", spiffeid.ID{})
	e.hub.Notify()
	for name, s := range map[string]*stream{"a": sa, "b": sb} {
		if m := s.next(t); m.Revision != 2 || cmp.Diff([]string{"for-all"}, ids(m.Entries)) != "" {
			t.Errorf("%s got %+v", name, m)
		}
	}
	sa.none(t) // a never saw for-b
}

func TestResumeSendsOnlyTheDelta(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t)
	a := agentID(1)
	kept := e.createEntry(t, "kept", a)       // rev 1
	changed := e.createEntry(t, "changed", a) // rev 2
	gone := e.createEntry(t, "gone", a)       // rev 3
	e.createEntry(t, "other", agentID(2))     // rev 4
	if err := e.store.PutRevocation(t.Context(), &store.Revocation{Kind: "jti", Value: "old", RevokedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	const agentRev, agentRevocs = 4, 1 // what the agent held when it lost its stream

	changed.Description = "new"
	if err := e.store.UpdateEntry(t.Context(), &changed); err != nil { // rev 5
		t.Fatal(err)
	}
	if err := e.store.DeleteEntry(t.Context(), gone.ID); err != nil { // rev 6
		t.Fatal(err)
	}
	e.createEntry(t, "new", spiffeid.ID{})    // rev 7
	e.createEntry(t, "new-other", agentID(2)) // rev 8
	if err := e.store.PutRevocation(t.Context(), &store.Revocation{Kind: "jti", Value: "new", RevokedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.hub.Notify()
	waitRev(t, e, 8)

	first := e.open(t, synchub.Subscription{Agent: a, Revision: agentRev, Revocations: agentRevocs}, nil).next(t)
	if first.Full {
		t.Fatal("a resume got the full state")
	}
	got := struct {
		Revision int64
		Entries  []string
		Deleted  []string
	}{first.Revision, ids(first.Entries), first.Deleted}
	want := struct {
		Revision int64
		Entries  []string
		Deleted  []string
	}{8, []string{"changed", "new"}, []string{"gone"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("resume message (-want +got):\n%s", d)
	}
	batch := decodeBatch(t, first.Revocations)
	if batch.Full || batch.Revision != 2 || len(batch.Entries) != 1 || batch.Entries[0].Value != "new" {
		t.Errorf("revocation delta = %+v, want only \"new\" at 2", batch)
	}
	_ = kept

	// Nothing changed: the resume carries no entries and no revocations.
	idle := e.open(t, synchub.Subscription{Agent: a, Revision: 8, Revocations: 2}, nil).next(t)
	if idle.Full || len(idle.Entries) != 0 || len(idle.Deleted) != 0 || idle.Revocations != "" {
		t.Errorf("resume at the current revision = %+v, want nothing but the bundle", idle)
	}
}

func TestResumeTooOldGetsFullState(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t)
	a := agentID(1)
	e.createEntry(t, "e1", a)
	e2 := e.createEntry(t, "e2", a)
	if err := e.store.DeleteEntry(t.Context(), e2.ID); err != nil { // rev 3
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := e.store.PruneEntryTombstones(t.Context(), now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.PruneEntryTombstones(t.Context(), now.Add(time.Minute), now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		rev  int64
		full bool
	}{
		{"older than the pruned tombstones", 2, true},
		{"newer than the store", 10, true},
		{"at the horizon", 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := e.open(t, synchub.Subscription{Agent: a, Revision: tc.rev}, nil).next(t)
			if m.Full != tc.full {
				t.Errorf("Full = %v, want %v", m.Full, tc.full)
			}
			if tc.full && cmp.Diff([]string{"e1"}, ids(m.Entries)) != "" {
				t.Errorf("full state = %v, want e1", ids(m.Entries))
			}
		})
	}
}

func TestMovedEntryLeavesOldParent(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t)
	a, b := agentID(1), agentID(2)
	en := e.createEntry(t, "mover", a)
	sa := e.open(t, synchub.Subscription{Agent: a}, nil)
	sb := e.open(t, synchub.Subscription{Agent: b}, nil)
	if m := sa.next(t); cmp.Diff([]string{"mover"}, ids(m.Entries)) != "" {
		t.Fatalf("a starts with %v", ids(m.Entries))
	}
	sb.next(t)

	en.ParentID = b.String()
	if err := e.store.UpdateEntry(t.Context(), &en); err != nil {
		t.Fatal(err)
	}
	e.hub.Notify()
	ma, mb := sa.next(t), sb.next(t)
	if len(ma.Entries) != 0 || cmp.Diff([]string{"mover"}, ma.Deleted) != "" {
		t.Errorf("old parent got entries %v, deleted %v; want only mover deleted", ids(ma.Entries), ma.Deleted)
	}
	if len(mb.Deleted) != 0 || cmp.Diff([]string{"mover"}, ids(mb.Entries)) != "" || mb.Entries[0].ParentID != b.String() {
		t.Errorf("new parent got %+v, want mover added", mb)
	}
}

// TestServerOnlyEntriesStayOnTheServer: an entry served by no agent (no
// parent, no any-agent opt-in) is sent to no agent, and one that stops
// being served by any agent is deleted from all, live and on catch-up
// (deleting an entry an agent never held is harmless).
func TestServerOnlyEntriesStayOnTheServer(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t)
	a := agentID(1)
	serverOnly := store.Entry{ID: "batch", SPIFFEID: "spiffe://example.org/batch", Selectors: []string{"unix:uid:1"}, Status: "active"}
	if err := e.store.CreateEntry(t.Context(), &serverOnly); err != nil {
		t.Fatal(err)
	}
	everywhere := e.createEntry(t, "everywhere", spiffeid.ID{})
	sa := e.open(t, synchub.Subscription{Agent: a}, nil)
	first := sa.next(t)
	if cmp.Diff([]string{"everywhere"}, ids(first.Entries)) != "" {
		t.Fatalf("the agent starts with %v, want only the any-agent entry", ids(first.Entries))
	}

	before := everywhere.Revision
	everywhere.AnyAgent = false
	if err := e.store.UpdateEntry(t.Context(), &everywhere); err != nil {
		t.Fatal(err)
	}
	e.hub.Notify()
	if m := sa.next(t); len(m.Entries) != 0 || !slices.Contains(m.Deleted, "everywhere") {
		t.Errorf("after the opt-in was withdrawn: entries %v, deleted %v; want it deleted", ids(m.Entries), m.Deleted)
	}
	// An agent catching up from before the change learns it too.
	sb := e.open(t, synchub.Subscription{Agent: agentID(2), Revision: before}, nil)
	if m := sb.next(t); m.Full || len(m.Entries) != 0 || !slices.Contains(m.Deleted, "everywhere") {
		t.Errorf("catch-up: entries %v, deleted %v; want it deleted", ids(m.Entries), m.Deleted)
	}
}

func TestRevocationsArePushed(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t)
	a, b := agentID(1), agentID(2)
	sa := e.open(t, synchub.Subscription{Agent: a, IssuedAt: time.Now().Add(-time.Minute)}, nil)
	sb := e.open(t, synchub.Subscription{Agent: b, IssuedAt: time.Now().Add(-time.Minute)}, nil)
	sa.next(t)
	sb.next(t)

	start := time.Now()
	if err := e.store.PutRevocation(t.Context(), &store.Revocation{Kind: "x509_serial", Value: "abc", RevokedAt: start}); err != nil {
		t.Fatal(err)
	}
	e.hub.Notify()
	for name, s := range map[string]*stream{"a": sa, "b": sb} {
		m := s.next(t)
		if time.Since(start) > time.Second {
			t.Errorf("%s: revocation took %v", name, time.Since(start))
		}
		batch := decodeBatch(t, m.Revocations)
		if batch.Full || batch.Revision != 1 || len(batch.Entries) != 1 || batch.Entries[0].Value != "abc" {
			t.Errorf("%s: batch %+v", name, batch)
		}
	}

	// Revoking agent a's identity ends its stream with Evicted.
	if err := e.store.PutRevocation(t.Context(), &store.Revocation{Kind: "spiffe_id", Value: a.String(), RevokedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.hub.Notify()
	for m := sa.next(t); !m.Evicted; m = sa.next(t) {
	}
	if err := <-sa.err; err != nil {
		t.Errorf("Stream of the evicted agent: %v, want nil", err)
	}
	if m := sb.next(t); m.Evicted || m.Revocations == "" {
		t.Errorf("b got %+v, want the revocation only", m)
	}
	e.waitStreams(t, 1)
}

func TestBundleChangesArePushed(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *synchub.Config) { c.PollInterval = 10 * time.Millisecond })
	s := e.open(t, synchub.Subscription{Agent: agentID(1)}, nil)
	s.next(t)
	e.bundles.setOwn(2)
	m := s.next(t)
	var doc struct {
		Sequence uint64 `json:"spiffe_sequence"`
	}
	if err := json.Unmarshal(m.Bundle, &doc); err != nil || doc.Sequence != 2 {
		t.Errorf("bundle %s: sequence %d, %v; want 2", m.Bundle, doc.Sequence, err)
	}
	e.bundles.setFederated("partner.example")
	if m := s.next(t); len(m.Federated["partner.example"]) == 0 {
		t.Errorf("federated = %v, want partner.example", m.Federated)
	}
	e.bundles.setFederated()
	if m := s.next(t); cmp.Diff([]string{"partner.example"}, m.FederatedRemoved) != "" {
		t.Errorf("federated removed = %v", m.FederatedRemoved)
	}
}

func TestHeartbeats(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *synchub.Config) { c.HeartbeatInterval = 20 * time.Millisecond })
	e.createEntry(t, "e1", spiffeid.ID{})
	e.hub.Notify()
	waitRev(t, e, 1)
	s := e.open(t, synchub.Subscription{Agent: agentID(1), Revision: 1}, nil)
	s.next(t)
	for range 3 {
		m := s.next(t)
		if !m.Heartbeat || m.Revision != 1 || len(m.Entries) != 0 {
			t.Fatalf("got %+v, want a heartbeat at revision 1", m)
		}
	}
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *synchub.Config) { c.QueueSize = 2 })
	block := make(chan struct{})
	slow := e.open(t, synchub.Subscription{Agent: agentID(1)}, block)
	fast := e.open(t, synchub.Subscription{Agent: agentID(2)}, nil)
	slow.next(t)
	fast.next(t)
	const changes = 6
	for i := range changes {
		e.createEntry(t, string(rune('a'+i)), spiffeid.ID{})
		e.hub.Notify()
		if m := fast.next(t); len(m.Entries) != 1 {
			t.Fatalf("change %d: fast stream got %+v", i, m)
		}
	}
	if st := e.hub.Stats(); st.Dropped != 1 || st.Streams != 1 {
		t.Errorf("stats = %+v, want the slow stream dropped and the fast one kept", st)
	}
	close(block) // let the write the slow stream was stuck in finish
	if err := <-slow.err; !errors.Is(err, synchub.ErrSlowConsumer) {
		t.Errorf("slow Stream: %v, want ErrSlowConsumer", err)
	}
}

func TestStreamsEndWhenTheHubStops(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t)
	s := e.open(t, synchub.Subscription{Agent: agentID(1)}, nil)
	s.next(t)
	e.cancel()
	if err := <-s.err; !errors.Is(err, synchub.ErrClosed) {
		t.Errorf("Stream after the hub stopped: %v, want ErrClosed", err)
	}
	e.wg.Wait()
	if err := e.hub.Stream(t.Context(), synchub.Subscription{Agent: agentID(2)}, s); !errors.Is(err, synchub.ErrClosed) {
		t.Errorf("new Stream on a stopped hub: %v, want ErrClosed", err)
	}
}
