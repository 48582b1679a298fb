package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

const (
	parentA = "spiffe://example.org/kith/agent/a"
	parentB = "spiffe://example.org/kith/agent/b"
)

// entryWithParent returns a new entry unique to id under parent.
func entryWithParent(id, parent string) store.Entry {
	e := newEntry(id)
	e.ParentID = parent
	return e
}

func testEntryChanges(t *testing.T, s *store.Store) {
	ctx := t.Context()
	a1 := mustCreateEntry(t, s, entryWithParent("a1", parentA)) // rev 1
	mustCreateEntry(t, s, entryWithParent("b1", parentB))       // rev 2
	mustCreateEntry(t, s, entryWithParent("any1", ""))          // rev 3
	mustCreateEntry(t, s, entryWithParent("a2", parentA))       // rev 4
	a1.Description = "changed"
	if err := s.UpdateEntry(ctx, &a1); err != nil { // rev 5
		t.Fatal(err)
	}
	ids := func(es []store.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.ChangeFilter
		want []string
	}{
		{"everything", store.ChangeFilter{}, []string{"b1", "any1", "a2", "a1"}},
		{"after a revision", store.ChangeFilter{After: 2}, []string{"any1", "a2", "a1"}},
		{"up to a revision", store.ChangeFilter{After: 1, UpTo: 3}, []string{"b1", "any1"}},
		{"one parent and none", store.ChangeFilter{Parents: []string{parentA, ""}}, []string{"any1", "a2", "a1"}},
		{"one parent after", store.ChangeFilter{After: 4, Parents: []string{parentA}}, []string{"a1"}},
		{"no parent", store.ChangeFilter{Parents: []string{""}}, []string{"any1"}},
		{"empty parent list", store.ChangeFilter{Parents: []string{}}, nil},
		{"paged", store.ChangeFilter{After: 2, Limit: 2}, []string{"any1", "a2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListEntryChanges(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff("ListEntryChanges", tc.want, ids(got)); d != "" {
				t.Error(d)
			}
		})
	}
	got, err := s.ListEntryChanges(ctx, store.ChangeFilter{After: 4})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListEntryChanges after 4 = %v, %v", got, err)
	}
	if d := diff("changed entry", normEntry(a1), got[0]); d != "" {
		t.Error(d)
	}
}

func testEntryTombstones(t *testing.T, s *store.Store) {
	ctx := t.Context()
	a1 := mustCreateEntry(t, s, entryWithParent("a1", parentA)) // rev 1
	mustCreateEntry(t, s, entryWithParent("b1", parentB))       // rev 2
	any1 := mustCreateEntry(t, s, entryWithParent("any1", ""))  // rev 3

	a1.ParentID = parentB
	if err := s.UpdateEntry(ctx, &a1); err != nil { // rev 4: a1 leaves A
		t.Fatal(err)
	}
	a1.Description = "same parent"
	if err := s.UpdateEntry(ctx, &a1); err != nil { // rev 5: no tombstone
		t.Fatal(err)
	}
	if err := s.DeleteEntry(ctx, "b1"); err != nil { // rev 6
		t.Fatal(err)
	}
	any1.ParentID = parentA
	if err := s.UpdateEntry(ctx, &any1); err != nil { // rev 7: any1 leaves ""
		t.Fatal(err)
	}
	// Refused writes leave no tombstone.
	stale := a1
	stale.Revision = 1
	stale.ParentID = parentA
	if err := s.UpdateEntry(ctx, &stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale UpdateEntry: %v", err)
	}
	if err := s.DeleteEntry(ctx, "b1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteEntry twice: %v", err)
	}
	checkRevision(t, s, 7)

	all := []store.EntryTombstone{
		{EntryID: "a1", ParentID: parentA, Revision: 4},
		{EntryID: "b1", ParentID: parentB, Revision: 6},
		{EntryID: "any1", ParentID: "", Revision: 7},
	}
	tests := []struct {
		name string
		f    store.ChangeFilter
		want []store.EntryTombstone
	}{
		{"all", store.ChangeFilter{}, all},
		{"after", store.ChangeFilter{After: 4}, all[1:]},
		{"up to", store.ChangeFilter{UpTo: 6}, all[:2]},
		{"parents", store.ChangeFilter{Parents: []string{parentA, ""}}, []store.EntryTombstone{all[0], all[2]}},
		{"no parent list", store.ChangeFilter{Parents: []string{}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListEntryTombstones(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff("ListEntryTombstones", tc.want, got); d != "" {
				t.Error(d)
			}
		})
	}

	// Pruning: the first pass stamps, a later one deletes what was stamped
	// before its cut-off, and the horizon follows.
	checkHorizon := func(want int64) {
		t.Helper()
		if got, err := s.EntryTombstoneHorizon(ctx); err != nil || got != want {
			t.Errorf("EntryTombstoneHorizon = %d, %v; want %d", got, err, want)
		}
	}
	checkHorizon(0)
	if n, err := s.PruneEntryTombstones(ctx, t0, t0.Add(-24*time.Hour)); err != nil || n != 0 {
		t.Errorf("first prune = %d, %v; want 0", n, err)
	}
	if err := s.DeleteEntry(ctx, "a1"); err != nil { // rev 8, stamped later
		t.Fatal(err)
	}
	if n, err := s.PruneEntryTombstones(ctx, t0.Add(time.Hour), t0.Add(time.Minute)); err != nil || n != 3 {
		t.Errorf("second prune = %d, %v; want 3", n, err)
	}
	checkHorizon(7)
	got, err := s.ListEntryTombstones(ctx, store.ChangeFilter{})
	want := []store.EntryTombstone{{EntryID: "a1", ParentID: parentB, Revision: 8, DeletedAt: norm(t0.Add(time.Hour))}}
	if err != nil || diff("", want, got) != "" {
		t.Errorf("after pruning: %v\n%s", err, diff("tombstones", want, got))
	}
	if n, err := s.PruneEntryTombstones(ctx, t0.Add(2*time.Hour), t0.Add(2*time.Hour)); err != nil || n != 1 {
		t.Errorf("third prune = %d, %v; want 1", n, err)
	}
	checkHorizon(8)
}

func testRevocationRevision(t *testing.T, s *store.Store) {
	ctx := t.Context()
	check := func(want int64) {
		t.Helper()
		if got, err := s.RevocationRevision(ctx); err != nil || got != want {
			t.Errorf("RevocationRevision = %d, %v; want %d", got, err, want)
		}
	}
	check(0)
	for _, v := range []string{"x", "y", "x"} {
		if err := s.PutRevocation(ctx, &store.Revocation{Kind: "jti", Value: v, RevokedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	check(3)
	checkRevision(t, s, 0) // the entries' revision is separate
}
