package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

// hashOf returns a distinct 32-byte value for s.
func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// ledgerEvents returns n events with indexes from start, with bodies and
// leaf hashes.
func ledgerEvents(start, n int64) []store.Event {
	var evs []store.Event
	for i := start; i < start+n; i++ {
		evs = append(evs, store.Event{
			Index: i, Time: t0.Add(time.Duration(i) * time.Second), Type: "ledger.test", Outcome: "success",
			Actor: "actor", Target: fmt.Sprint("target-", i%3),
			Body: fmt.Appendf(nil, `{"index":%d}`, i), LeafHash: hashOf(fmt.Sprint("leaf ", i)),
		})
	}
	return evs
}

// ledgerAppend returns an append of n new events after prev, with a node
// at level 4 for each complete group of 16.
func ledgerAppend(prev, n int64) store.LedgerAppend {
	a := store.LedgerAppend{
		PrevSize: prev,
		Next: store.LedgerState{Size: prev + n, Root: hashOf(fmt.Sprint("root ", prev+n)),
			Range: []byte(fmt.Sprint("range ", prev+n))},
		Events: ledgerEvents(prev, n),
	}
	for i := prev; i < prev+n; i++ {
		if (i+1)%16 == 0 {
			a.Nodes = append(a.Nodes, store.LedgerNode{Level: 4, Index: i / 16, Hash: hashOf(fmt.Sprint("node ", i/16))})
		}
	}
	return a
}

func mustAppendLedger(t testing.TB, s *store.Store, a store.LedgerAppend) {
	t.Helper()
	if err := s.AppendLedger(t.Context(), a); err != nil {
		t.Fatalf("AppendLedger(%d → %d): %v", a.PrevSize, a.Next.Size, err)
	}
}

func mustLedgerState(t testing.TB, s *store.Store) store.LedgerState {
	t.Helper()
	st, err := s.LedgerState(t.Context())
	if err != nil {
		t.Fatalf("LedgerState: %v", err)
	}
	return st
}

func testLedgerAppend(t *testing.T, s *store.Store) {
	if d := diff("initial LedgerState", store.LedgerState{}, mustLedgerState(t, s)); d != "" {
		t.Error(d)
	}
	a1, a2 := ledgerAppend(0, 20), ledgerAppend(20, 600) // a2 spans several INSERT chunks
	mustAppendLedger(t, s, a1)
	mustAppendLedger(t, s, a2)
	want := a2.Next
	want.Events = 620
	if d := diff("LedgerState", want, mustLedgerState(t, s)); d != "" {
		t.Error(d)
	}
	got, err := s.ListEvents(t.Context(), store.EventFilter{After: 15, Limit: 10})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	wantEvs := append(ledgerEvents(16, 4), ledgerEvents(20, 6)...)
	for i := range wantEvs {
		wantEvs[i].Time = norm(wantEvs[i].Time)
	}
	if d := diff("ListEvents", wantEvs, got); d != "" {
		t.Error(d)
	}
	// AppendEvent continues after the ledger's events.
	if ev := mustAppendEvent(t, s, store.Event{Type: "plain"}); ev.Index != 620 {
		t.Errorf("AppendEvent after AppendLedger: Index %d, want 620", ev.Index)
	}
}

func testLedgerAppendErrors(t *testing.T, s *store.Store) {
	mustAppendLedger(t, s, ledgerAppend(0, 5))
	before := mustLedgerState(t, s)
	bad := func(edit func(a *store.LedgerAppend)) store.LedgerAppend {
		a := ledgerAppend(5, 3)
		edit(&a)
		return a
	}
	tests := []struct {
		name     string
		a        store.LedgerAppend
		conflict bool
	}{
		{"stale size", ledgerAppend(4, 3), true},
		{"future size", ledgerAppend(6, 3), true},
		{"size mismatch", bad(func(a *store.LedgerAppend) { a.Next.Size++ }), false},
		{"gap in indexes", bad(func(a *store.LedgerAppend) { a.Events[1].Index = 9; a.Events[2].Index = 10 }), false},
		{"duplicate node", bad(func(a *store.LedgerAppend) {
			a.Nodes = []store.LedgerNode{{Level: 4, Index: 0, Hash: []byte{1}}, {Level: 4, Index: 0, Hash: []byte{2}}}
		}), true},
		{"adopting a missing event", bad(func(a *store.LedgerAppend) {
			a.Adopted, a.Events = a.Events[:1], a.Events[1:]
		}), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.AppendLedger(t.Context(), tc.a)
			if err == nil {
				t.Fatal("AppendLedger succeeded")
			}
			if errors.Is(err, store.ErrConflict) != tc.conflict {
				t.Errorf("AppendLedger error = %v; ErrConflict %v, want %v", err, !tc.conflict, tc.conflict)
			}
			if d := diff("LedgerState after a failed append", before, mustLedgerState(t, s)); d != "" {
				t.Error(d)
			}
		})
	}
	if evs, err := s.ListEvents(t.Context(), store.EventFilter{After: 4}); err != nil || len(evs) != 0 {
		t.Errorf("failed appends left %d events behind (%v)", len(evs), err)
	}
}

func testLedgerAdopt(t *testing.T, s *store.Store) {
	mustAppendLedger(t, s, ledgerAppend(0, 2))
	for range 3 {
		mustAppendEvent(t, s, store.Event{Time: t0, Type: "legacy", Outcome: "success", Body: []byte(`{"legacy":true}`)})
	}
	st := mustLedgerState(t, s)
	if st.Size != 2 || st.Events != 5 {
		t.Fatalf("LedgerState = size %d, events %d; want 2, 5", st.Size, st.Events)
	}
	// A plain append fails: the legacy rows are in the way.
	if err := s.AppendLedger(t.Context(), ledgerAppend(2, 1)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("AppendLedger over legacy rows: error = %v, want ErrConflict", err)
	}
	// Adopting only some of them fails too.
	a := ledgerAppend(2, 4)
	a.Adopted, a.Events = a.Events[:2], a.Events[2:]
	if err := s.AppendLedger(t.Context(), a); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("AppendLedger adopting 2 of 3: error = %v, want ErrConflict", err)
	}
	a.Adopted, a.Events = append(a.Adopted, a.Events[0]), a.Events[1:]
	mustAppendLedger(t, s, a)
	got, err := s.ListEvents(t.Context(), store.EventFilter{After: 1})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	var want []store.Event
	for i, ev := range ledgerEvents(2, 4) {
		if i < 3 { // adopted rows keep their columns but take the new body and hash
			ev.Time, ev.Type, ev.Actor, ev.Target = norm(t0), "legacy", "", ""
		} else {
			ev.Time = norm(ev.Time)
		}
		want = append(want, ev)
	}
	if d := diff("events after adoption", want, got); d != "" {
		t.Error(d)
	}
}

func testLedgerHashes(t *testing.T, s *store.Store) {
	a := ledgerAppend(0, 40)
	mustAppendLedger(t, s, a)
	tests := []struct {
		name         string
		level        int
		start, end   int64
		want         [][]byte
		wantNotFound bool
	}{
		{"leaves", 0, 3, 6, [][]byte{a.Events[3].LeafHash, a.Events[4].LeafHash, a.Events[5].LeafHash}, false},
		{"one leaf", 0, 39, 40, [][]byte{a.Events[39].LeafHash}, false},
		{"nodes", 4, 0, 2, [][]byte{a.Nodes[0].Hash, a.Nodes[1].Hash}, false},
		{"leaf beyond the tree", 0, 38, 41, nil, true},
		{"node not stored", 4, 1, 3, nil, true},
		{"level not stored", 8, 0, 1, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.LedgerHashes(t.Context(), tc.level, tc.start, tc.end)
			if tc.wantNotFound {
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("LedgerHashes error = %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LedgerHashes: %v", err)
			}
			if d := diff("LedgerHashes", tc.want, got); d != "" {
				t.Error(d)
			}
		})
	}
	for _, r := range [][2]int64{{5, 5}, {-1, 2}, {0, 1<<16 + 1}} {
		if _, err := s.LedgerHashes(t.Context(), 0, r[0], r[1]); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("LedgerHashes(0, %d, %d) error = %v, want a range error", r[0], r[1], err)
		}
	}
	// A plain event has no leaf hash.
	mustAppendEvent(t, s, store.Event{Type: "plain"})
	if _, err := s.LedgerHashes(t.Context(), 0, 40, 41); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LedgerHashes of an unhashed event: error = %v, want ErrNotFound", err)
	}
}

func testCheckpoints(t *testing.T, s *store.Store) {
	if _, err := s.LatestCheckpoint(t.Context()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestCheckpoint of an empty store: error = %v, want ErrNotFound", err)
	}
	var all []store.Checkpoint
	for _, size := range []int64{1, 5, 6, 40} {
		cp := store.Checkpoint{Size: size, Note: fmt.Appendf(nil, "note %d\n", size), Time: t0.Add(time.Duration(size) * time.Second)}
		if err := s.AddCheckpoint(t.Context(), cp); err != nil {
			t.Fatalf("AddCheckpoint(%d): %v", size, err)
		}
		cp.Time = norm(cp.Time)
		all = append(all, cp)
	}
	for _, size := range []int64{5, 39, 40} {
		if err := s.AddCheckpoint(t.Context(), store.Checkpoint{Size: size, Note: []byte("other")}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("AddCheckpoint(%d) after 40: error = %v, want ErrConflict", size, err)
		}
	}
	latest, err := s.LatestCheckpoint(t.Context())
	if err != nil {
		t.Fatalf("LatestCheckpoint: %v", err)
	}
	if d := diff("LatestCheckpoint", all[3], latest); d != "" {
		t.Error(d)
	}
	tests := []struct {
		name  string
		after int64
		limit int
		want  []store.Checkpoint
	}{
		{"all", -1, 0, all},
		{"after a stored size", 5, 0, all[2:]},
		{"after an unstored size", 3, 0, all[1:]},
		{"limit", 0, 2, all[:2]},
		{"after the last", 40, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListCheckpoints(t.Context(), tc.after, tc.limit)
			if err != nil {
				t.Fatalf("ListCheckpoints: %v", err)
			}
			if d := diff("ListCheckpoints", tc.want, got); d != "" {
				t.Error(d)
			}
		})
	}
}

// testConcurrentLedgerAppend races writers that each read the state and
// try to extend it: every size is reached by exactly one of them, and no
// index is written twice.
func testConcurrentLedgerAppend(t *testing.T, s *store.Store) {
	const writers, rounds = 4, 10
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for w := range writers {
		wg.Go(func() {
			for range rounds {
				st, err := s.LedgerState(t.Context())
				if err != nil {
					t.Errorf("writer %d: LedgerState: %v", w, err)
					return
				}
				err = s.AppendLedger(t.Context(), ledgerAppend(st.Size, 3))
				switch {
				case err == nil:
					mu.Lock()
					wins++
					mu.Unlock()
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("writer %d: AppendLedger: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if wins == 0 {
		t.Fatal("no writer succeeded")
	}
	st := mustLedgerState(t, s)
	if st.Size != int64(3*wins) || st.Events != st.Size {
		t.Errorf("after %d successful appends of 3: state size %d, events %d", wins, st.Size, st.Events)
	}
	if _, err := s.LedgerHashes(t.Context(), 0, 0, st.Size); err != nil {
		t.Errorf("LedgerHashes over the whole tree: %v", err)
	}
}

func testLedgerAppendInTx(t *testing.T, s *store.Store) {
	err := s.Tx(t.Context(), func(tx *store.Tx) error {
		if err := tx.AppendLedger(t.Context(), ledgerAppend(0, 3)); err != nil {
			return err
		}
		// A failed append inside the Tx leaves the Tx usable.
		if err := tx.AppendLedger(t.Context(), ledgerAppend(0, 3)); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second append from size 0 in the Tx: error = %v, want ErrConflict", err)
		}
		if err := tx.AddCheckpoint(t.Context(), store.Checkpoint{Size: 3, Note: []byte("n\n")}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Tx error = %v, want errBoom", err)
	}
	if d := diff("LedgerState after rollback", store.LedgerState{}, mustLedgerState(t, s)); d != "" {
		t.Error(d)
	}
	if _, err := s.LatestCheckpoint(t.Context()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestCheckpoint after rollback: error = %v, want ErrNotFound", err)
	}
}

func testExtendLedger(t *testing.T, s *store.Store) {
	mustAppendLedger(t, s, ledgerAppend(0, 4))
	// build sees the locked state and its append is written.
	var seen store.LedgerState
	err := s.ExtendLedger(t.Context(), func(st store.LedgerState) (store.LedgerAppend, error) {
		seen = st
		return ledgerAppend(st.Size, 2), nil
	})
	if err != nil {
		t.Fatalf("ExtendLedger: %v", err)
	}
	want := ledgerAppend(0, 4).Next
	want.Events = 4
	if d := diff("state seen by build", want, seen); d != "" {
		t.Error(d)
	}
	if st := mustLedgerState(t, s); st.Size != 6 {
		t.Errorf("size after ExtendLedger %d, want 6", st.Size)
	}
	// build's error comes back unchanged and nothing is written.
	err = s.ExtendLedger(t.Context(), func(store.LedgerState) (store.LedgerAppend, error) { return store.LedgerAppend{}, errBoom })
	if err != errBoom {
		t.Errorf("ExtendLedger with a failing build: error = %v, want errBoom", err)
	}
	// An append that does not start at the locked size conflicts.
	err = s.ExtendLedger(t.Context(), func(st store.LedgerState) (store.LedgerAppend, error) { return ledgerAppend(st.Size-1, 1), nil })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("ExtendLedger from a stale size: error = %v, want ErrConflict", err)
	}
	if st := mustLedgerState(t, s); st.Size != 6 {
		t.Errorf("size after failed extends %d, want 6", st.Size)
	}
}

// testConcurrentExtendLedger races writers through ExtendLedger: none
// ever conflicts, as each builds on the state it locked.
func testConcurrentExtendLedger(t *testing.T, s *store.Store) {
	const writers, rounds = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range rounds {
				err := s.ExtendLedger(t.Context(), func(st store.LedgerState) (store.LedgerAppend, error) {
					return ledgerAppend(st.Size, 3), nil
				})
				if err != nil {
					t.Errorf("writer %d: ExtendLedger: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if st := mustLedgerState(t, s); st.Size != writers*rounds*3 || st.Events != st.Size {
		t.Errorf("state size %d, events %d; want %d", st.Size, st.Events, writers*rounds*3)
	}
}
