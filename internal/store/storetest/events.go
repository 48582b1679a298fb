package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

func testAppendEvent(t *testing.T, s *store.Store) {
	in := []store.Event{
		{Time: t0, Type: "entry.created", Outcome: "success", Actor: "admin:alice", Target: "entry:a", Body: []byte(`{"n":0}`)},
		{Time: t0.Add(time.Second), Type: "svid.minted", Outcome: "success", Actor: "agent:1", Target: "entry:a"},
		{Time: t0.Add(2 * time.Second), Type: "admin.login", Outcome: "failure", Body: []byte{}},
	}
	var want []store.Event
	for i, ev := range in {
		ev.Index = 99 // ignored: the store assigns it
		got := mustAppendEvent(t, s, ev)
		if got.Index != int64(i) {
			t.Errorf("event %d got Index %d", i, got.Index)
		}
		ev.Index = int64(i)
		ev.Time = norm(ev.Time)
		if len(ev.Body) == 0 {
			ev.Body = nil
		}
		want = append(want, ev)
	}
	got, err := s.ListEvents(t.Context(), store.EventFilter{After: -1})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	if d := diff("ListEvents", want, got); d != "" {
		t.Error(d)
	}
}

func testListEvents(t *testing.T, s *store.Store) {
	// Ten events, one second apart from t0: types alternate, actors cycle
	// over three, targets over two; every fourth one failed.
	var all []store.Event
	for i := range 10 {
		ev := store.Event{
			Time:    t0.Add(time.Duration(i) * time.Second),
			Type:    []string{"entry.created", "svid.minted"}[i%2],
			Outcome: "success",
			Actor:   fmt.Sprintf("actor-%d", i%3),
			Target:  fmt.Sprintf("target-%d", i%2),
			Body:    fmt.Appendf(nil, `{"i":%d}`, i),
		}
		if i%4 == 0 {
			ev.Outcome = "failure"
		}
		ev = mustAppendEvent(t, s, ev)
		ev.Time = norm(ev.Time)
		all = append(all, ev)
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	tests := []struct {
		name   string
		filter store.EventFilter
		want   []int64 // indexes
	}{
		{"all", store.EventFilter{After: -1}, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"zero value skips index 0", store.EventFilter{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"after", store.EventFilter{After: 6}, []int64{7, 8, 9}},
		{"after the last", store.EventFilter{After: 9}, nil},
		{"type", store.EventFilter{After: -1, Type: "svid.minted"}, []int64{1, 3, 5, 7, 9}},
		{"actor", store.EventFilter{After: -1, Actor: "actor-1"}, []int64{1, 4, 7}},
		{"target", store.EventFilter{After: -1, Target: "target-0"}, []int64{0, 2, 4, 6, 8}},
		{"outcome", store.EventFilter{After: -1, Outcome: "failure"}, []int64{0, 4, 8}},
		{"since is inclusive", store.EventFilter{After: -1, Since: at(7)}, []int64{7, 8, 9}},
		{"until is exclusive", store.EventFilter{After: -1, Until: at(2)}, []int64{0, 1}},
		{"since and until", store.EventFilter{After: -1, Since: at(3), Until: at(6)}, []int64{3, 4, 5}},
		{"times in another zone", store.EventFilter{After: -1, Since: at(3).In(time.FixedZone("X", -7*3600)),
			Until: at(5).UTC()}, []int64{3, 4}},
		{"limit", store.EventFilter{After: -1, Limit: 2}, []int64{0, 1}},
		{"combined", store.EventFilter{After: 1, Type: "entry.created", Target: "target-0", Outcome: "success"},
			[]int64{2, 6}},
		{"combined with limit", store.EventFilter{After: 1, Type: "entry.created", Target: "target-0",
			Outcome: "success", Limit: 1}, []int64{2}},
		{"no match", store.EventFilter{After: -1, Actor: "nobody"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListEvents(t.Context(), tc.filter)
			if err != nil {
				t.Fatalf("ListEvents: %v", err)
			}
			if len(got) == 0 && got != nil {
				t.Errorf("ListEvents returned an empty non-nil slice")
			}
			var want []store.Event
			for _, i := range tc.want {
				want = append(want, all[i])
			}
			if d := diff("ListEvents", want, got); d != "" {
				t.Error(d)
			}
		})
	}
}

func testListEventsLimits(t *testing.T, s *store.Store) {
	err := s.Tx(t.Context(), func(tx *store.Tx) error {
		for range 1001 {
			if err := tx.AppendEvent(t.Context(), &store.Event{Time: t0, Type: "bulk"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("append 1001 events: %v", err)
	}
	tests := []struct {
		limit int
		want  int
	}{
		{0, 100},
		{-5, 100},
		{7, 7},
		{1000, 1000},
		{1001, 1000},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("limit ", tc.limit), func(t *testing.T) {
			got, err := s.ListEvents(t.Context(), store.EventFilter{After: -1, Limit: tc.limit})
			if err != nil {
				t.Fatalf("ListEvents: %v", err)
			}
			if len(got) != tc.want {
				t.Fatalf("ListEvents returned %d events, want %d", len(got), tc.want)
			}
			if last := got[len(got)-1].Index; last != int64(tc.want-1) {
				t.Errorf("last Index %d, want %d", last, tc.want-1)
			}
		})
	}
}

func testConcurrentAppendEvent(t *testing.T, s *store.Store) {
	const workers, each = 8, 25
	var (
		mu     sync.Mutex
		bodies = map[int64]string{} // index → body
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ev := store.Event{Time: t0, Type: "concurrent", Body: fmt.Appendf(nil, "%d/%d", w, i)}
				if err := s.AppendEvent(t.Context(), &ev); err != nil {
					t.Errorf("AppendEvent: %v", err)
					return
				}
				mu.Lock()
				if prev, dup := bodies[ev.Index]; dup {
					t.Errorf("index %d given to %s and %s", ev.Index, prev, ev.Body)
				}
				bodies[ev.Index] = string(ev.Body)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	const n = workers * each
	indexes := slices.Sorted(func(yield func(int64) bool) {
		for i := range bodies {
			if !yield(i) {
				return
			}
		}
	})
	if len(indexes) != n || indexes[0] != 0 || indexes[n-1] != n-1 {
		t.Fatalf("appenders got indexes %v, want 0..%d", indexes, n-1)
	}
	got, err := s.ListEvents(t.Context(), store.EventFilter{After: -1, Limit: 1000})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	if len(got) != n {
		t.Fatalf("ListEvents returned %d events, want %d", len(got), n)
	}
	for i, ev := range got {
		if ev.Index != int64(i) || string(ev.Body) != bodies[ev.Index] {
			t.Errorf("event %d: Index %d, Body %q; want Index %d, Body %q", i, ev.Index, ev.Body, i, bodies[int64(i)])
		}
	}
	// The next append continues the sequence.
	if ev := mustAppendEvent(t, s, store.Event{Type: "after"}); ev.Index != n {
		t.Errorf("next Index %d, want %d", ev.Index, n)
	}
}

// testListEventsAcrossSegments appends 10,000 events in appends of 300
// (so bundles straddle the 4,096-event segments of the key index),
// actors cycling over 50 and one rare actor in the second segment and
// in the incomplete tail, and checks queries by key against a filter
// of the whole log, from several starting points and with small pages.
// One append of the first segment goes through a transaction, which the
// store does not remember: that segment's index is made by reading its
// events back, the second's from what the store remembers of its
// appends.
func testListEventsAcrossSegments(t *testing.T, s *store.Store) {
	const n = 10_000
	var all []store.Event
	for prev := int64(0); prev < n; prev += 300 {
		a := ledgerAppend(prev, min(300, n-prev))
		for i := range a.Events {
			ev := &a.Events[i]
			ev.Actor = fmt.Sprint("actor-", ev.Index%50)
			if ev.Index == 5000 || ev.Index == 9000 {
				ev.Actor = "rare"
			}
			ev.Type = []string{"a.type", "b.type"}[ev.Index%7/6] // b.type one in seven
		}
		a.Nodes = nil
		if prev == 1500 {
			if err := s.Tx(t.Context(), func(tx *store.Tx) error { return tx.AppendLedger(t.Context(), a) }); err != nil {
				t.Fatalf("AppendLedger in a transaction: %v", err)
			}
		} else {
			mustAppendLedger(t, s, a)
		}
		all = append(all, a.Events...)
	}
	for i := range all {
		all[i].Time = norm(all[i].Time)
	}
	tests := []struct {
		name   string
		filter store.EventFilter
	}{
		{"rare actor", store.EventFilter{Actor: "rare"}},
		{"actor", store.EventFilter{Actor: "actor-7"}},
		{"actor and type", store.EventFilter{Actor: "actor-7", Type: "b.type"}},
		{"type and target", store.EventFilter{Type: "b.type", Target: "target-1"}},
		{"actor and time", store.EventFilter{Actor: "actor-3", Since: t0.Add(4000 * time.Second), Until: t0.Add(8200 * time.Second)}},
		{"no such actor", store.EventFilter{Actor: "nobody"}},
	}
	for _, tc := range tests {
		for _, after := range []int64{-1, 4095, 4100, 8191, 9500} {
			t.Run(fmt.Sprintf("%s after %d", tc.name, after), func(t *testing.T) {
				var want []store.Event
				for _, ev := range all {
					if ev.Index > after && matches(tc.filter, ev) {
						want = append(want, ev)
					}
				}
				var got []store.Event
				f := tc.filter
				f.After, f.Limit = after, 37
				for {
					page, err := s.ListEvents(t.Context(), f)
					if err != nil {
						t.Fatalf("ListEvents: %v", err)
					}
					if len(page) == 0 {
						break
					}
					got = append(got, page...)
					f.After = page[len(page)-1].Index
				}
				if len(got) != len(want) {
					t.Fatalf("%d events, want %d", len(got), len(want))
				}
				if d := diff("ListEvents", want, got); d != "" {
					t.Error(d)
				}
			})
		}
	}
}

// matches is the reference filter of testListEventsAcrossSegments.
func matches(f store.EventFilter, ev store.Event) bool {
	return (f.Type == "" || ev.Type == f.Type) && (f.Actor == "" || ev.Actor == f.Actor) &&
		(f.Target == "" || ev.Target == f.Target) && (f.Outcome == "" || ev.Outcome == f.Outcome) &&
		(f.Since.IsZero() || !ev.Time.Before(f.Since)) && (f.Until.IsZero() || ev.Time.Before(f.Until))
}
