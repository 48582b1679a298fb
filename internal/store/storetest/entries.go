package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

func testEntryRoundTrip(t *testing.T, s *store.Store) {
	tests := []struct {
		name  string
		entry store.Entry
		want  store.Entry // before the store sets Revision
	}{
		{
			name:  "every field",
			entry: newEntry("full"),
			want:  normEntry(newEntry("full")),
		},
		{
			name:  "served by any agent",
			entry: func() store.Entry { e := newEntry("any"); e.ParentID, e.AnyAgent = "", true; return e }(),
			want:  func() store.Entry { e := normEntry(newEntry("any")); e.ParentID, e.AnyAgent = "", true; return e }(),
		},
		{
			name:  "nil collections and zero values",
			entry: store.Entry{ID: "zero", SPIFFEID: "spiffe://example.org/zero"},
			want:  store.Entry{ID: "zero", SPIFFEID: "spiffe://example.org/zero"},
		},
		{
			name: "empty collections read back nil",
			entry: store.Entry{ID: "empty", SPIFFEID: "spiffe://example.org/empty",
				Selectors: []string{}, MaxScopes: []string{}, Labels: map[string]string{}},
			want: store.Entry{ID: "empty", SPIFFEID: "spiffe://example.org/empty"},
		},
		{
			name: "text that needs escaping",
			entry: store.Entry{ID: "odd 'id' \"?\" ü", SPIFFEID: "spiffe://example.org/odd?",
				Selectors: []string{"a:\"quoted\"", "b:new\nline"}, Labels: map[string]string{"k'": "v?"},
				Description: "it's $1 and ? and \\"},
			want: store.Entry{ID: "odd 'id' \"?\" ü", SPIFFEID: "spiffe://example.org/odd?",
				Selectors: []string{"a:\"quoted\"", "b:new\nline"}, Labels: map[string]string{"k'": "v?"},
				Description: "it's $1 and ? and \\"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.entry
			before := mustRevision(t, s)
			if err := s.CreateEntry(t.Context(), &e); err != nil {
				t.Fatalf("CreateEntry: %v", err)
			}
			if e.Revision != before+1 {
				t.Errorf("CreateEntry set Revision %d, want %d", e.Revision, before+1)
			}
			want := tc.want
			want.Revision = e.Revision
			// No EquateEmpty: nil for empty collections is the contract.
			if d := diff("GetEntry", want, mustGetEntry(t, s, e.ID)); d != "" {
				t.Error(d)
			}
		})
	}
}

func testCreateEntryConflict(t *testing.T, s *store.Store) {
	base := newEntry("base")
	base.Selectors = []string{"unix:uid:1000", "unix:gid:1000"}
	mustCreateEntry(t, s, base)

	// with returns an entry with a fresh ID and base's identity, changed
	// by fn.
	with := func(id string, fn func(e *store.Entry)) store.Entry {
		e := newEntry(id)
		e.SPIFFEID, e.ParentID, e.Selectors = base.SPIFFEID, base.ParentID, slices.Clone(base.Selectors)
		fn(&e)
		return e
	}
	tests := []struct {
		name    string
		entry   store.Entry
		wantErr error
	}{
		{"same ID", newEntry("base"), store.ErrConflict},
		{"same identity", with("dup-1", func(*store.Entry) {}), store.ErrConflict},
		{"same identity, selectors reordered", with("dup-2", func(e *store.Entry) {
			e.Selectors = []string{"unix:gid:1000", "unix:uid:1000"}
		}), store.ErrConflict},
		{"same identity, selector repeated", with("dup-3", func(e *store.Entry) {
			e.Selectors = []string{"unix:gid:1000", "unix:uid:1000", "unix:gid:1000"}
		}), store.ErrConflict},
		{"other parent", with("ok-1", func(e *store.Entry) { e.ParentID += "-other" }), nil},
		{"other SPIFFE ID", with("ok-2", func(e *store.Entry) { e.SPIFFEID += "-other" }), nil},
		{"fewer selectors", with("ok-3", func(e *store.Entry) { e.Selectors = e.Selectors[:1] }), nil},
		{"no selectors", with("ok-4", func(e *store.Entry) { e.Selectors = nil }), nil},
		{"no selectors again", with("dup-4", func(e *store.Entry) { e.Selectors = []string{} }), store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := mustRevision(t, s)
			e := tc.entry
			err := s.CreateEntry(t.Context(), &e)
			if !wantErr(err, tc.wantErr) {
				t.Fatalf("CreateEntry error = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil {
				checkRevision(t, s, before+1)
				return
			}
			checkRevision(t, s, before) // a failed write consumes no revision
			if e.Revision != 0 {
				t.Errorf("failed CreateEntry set Revision to %d", e.Revision)
			}
			if e.ID != base.ID {
				checkNoEntry(t, s, e.ID)
			}
		})
	}
	// The entry whose ID was reused is unchanged.
	want := normEntry(base)
	want.Revision = 1
	if d := diff("base entry", want, mustGetEntry(t, s, base.ID)); d != "" {
		t.Error(d)
	}
}

func testGetEntryNotFound(t *testing.T, s *store.Store) {
	mustCreateEntry(t, s, newEntry("present"))
	checkNoEntry(t, s, "absent")
	checkNoEntry(t, s, "")
}

func testUpdateEntry(t *testing.T, s *store.Store) {
	created := mustCreateEntry(t, s, newEntry("a"))
	mustCreateEntry(t, s, newEntry("other")) // moves the store-wide revision on

	e := created
	e.SPIFFEID = "spiffe://example.org/renamed"
	e.Selectors = []string{"k8s:ns:new"}
	e.MaxScopes = nil
	e.Labels = map[string]string{"env": "staging"}
	e.Status = "disabled"
	e.X509SVIDTTL = 0
	e.CreatedAt = t0.Add(-time.Hour) // ignored: CreatedAt is kept
	e.UpdatedAt = t0.Add(time.Hour)
	if err := s.UpdateEntry(t.Context(), &e); err != nil {
		t.Fatalf("UpdateEntry: %v", err)
	}
	if e.Revision != 3 {
		t.Errorf("UpdateEntry set Revision %d, want 3", e.Revision)
	}
	if !e.CreatedAt.Equal(norm(created.CreatedAt)) {
		t.Errorf("UpdateEntry set CreatedAt %v, want the stored %v", e.CreatedAt, norm(created.CreatedAt))
	}
	checkRevision(t, s, 3)
	if d := diff("GetEntry after update", normEntry(e), mustGetEntry(t, s, "a")); d != "" {
		t.Error(d)
	}

	// The revision UpdateEntry returned is the one to pass next time.
	e.Description = "second update"
	if err := s.UpdateEntry(t.Context(), &e); err != nil {
		t.Fatalf("second UpdateEntry: %v", err)
	}
	if e.Revision != 4 {
		t.Errorf("second UpdateEntry set Revision %d, want 4", e.Revision)
	}

	// Served by any agent, and back to one parent.
	for _, any := range []bool{true, false} {
		e.ParentID, e.AnyAgent = "", any
		if !any {
			e.ParentID = "spiffe://example.org/agent/node-2"
		}
		if err := s.UpdateEntry(t.Context(), &e); err != nil {
			t.Fatalf("UpdateEntry (any agent %v): %v", any, err)
		}
		if d := diff("GetEntry after update", normEntry(e), mustGetEntry(t, s, "a")); d != "" {
			t.Error(d)
		}
	}
}

func testUpdateEntryErrors(t *testing.T, s *store.Store) {
	a := mustCreateEntry(t, s, newEntry("a"))
	b := mustCreateEntry(t, s, newEntry("b"))
	stale := a
	a.Description = "fresh"
	if err := s.UpdateEntry(t.Context(), &a); err != nil {
		t.Fatalf("UpdateEntry: %v", err)
	}

	tests := []struct {
		name    string
		entry   store.Entry
		wantErr error
	}{
		{"stale revision", func() store.Entry { e := stale; e.Description = "lost"; return e }(), store.ErrConflict},
		{"future revision", func() store.Entry { e := a; e.Revision += 10; return e }(), store.ErrConflict},
		{"zero revision", func() store.Entry { e := a; e.Revision = 0; return e }(), store.ErrConflict},
		{"missing", newEntry("missing"), store.ErrNotFound},
		{"identity of another entry", func() store.Entry {
			e := a
			e.SPIFFEID, e.ParentID, e.Selectors = b.SPIFFEID, b.ParentID, []string{b.Selectors[1], b.Selectors[0]}
			return e
		}(), store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := mustRevision(t, s)
			e := tc.entry
			err := s.UpdateEntry(t.Context(), &e)
			if !wantErr(err, tc.wantErr) {
				t.Fatalf("UpdateEntry error = %v, want %v", err, tc.wantErr)
			}
			if e.Revision != tc.entry.Revision {
				t.Errorf("failed UpdateEntry changed Revision from %d to %d", tc.entry.Revision, e.Revision)
			}
			checkRevision(t, s, before)
			if d := diff("entry a", normEntry(a), mustGetEntry(t, s, "a")); d != "" {
				t.Error(d)
			}
			checkNoEntry(t, s, "missing")
		})
	}
}

func testDeleteEntry(t *testing.T, s *store.Store) {
	mustCreateEntry(t, s, newEntry("a"))
	mustCreateEntry(t, s, newEntry("b"))
	if err := s.DeleteEntry(t.Context(), "a"); err != nil {
		t.Fatalf("DeleteEntry: %v", err)
	}
	checkRevision(t, s, 3)
	checkNoEntry(t, s, "a")
	mustGetEntry(t, s, "b")

	for _, id := range []string{"a", "never"} {
		if err := s.DeleteEntry(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteEntry(%q) error = %v, want ErrNotFound", id, err)
		}
	}
	checkRevision(t, s, 3)

	// The identity of a deleted entry is free again.
	e := newEntry("a2")
	e.SPIFFEID, e.Selectors = newEntry("a").SPIFFEID, newEntry("a").Selectors
	if err := s.CreateEntry(t.Context(), &e); err != nil {
		t.Errorf("CreateEntry with a deleted entry's identity: %v", err)
	}
}

func testRevision(t *testing.T, s *store.Store) {
	ctx := t.Context()
	checkRevision(t, s, 0)
	e := mustCreateEntry(t, s, newEntry("a"))
	if e.Revision != 1 {
		t.Errorf("first CreateEntry set Revision %d, want 1", e.Revision)
	}
	checkRevision(t, s, 1)
	if err := s.UpdateEntry(ctx, &e); err != nil {
		t.Fatalf("UpdateEntry: %v", err)
	}
	checkRevision(t, s, 2)
	if err := s.DeleteEntry(ctx, "a"); err != nil {
		t.Fatalf("DeleteEntry: %v", err)
	}
	checkRevision(t, s, 3)

	// Writes of other records do not move it.
	mustAppendEvent(t, s, store.Event{Type: "x"})
	if _, err := s.PutBlob(ctx, "b", []byte("x"), 0); err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	if err := s.PutFederation(ctx, store.Federation{TrustDomain: "example.com"}); err != nil {
		t.Fatalf("PutFederation: %v", err)
	}
	if err := s.CreateAdminCredential(ctx, store.AdminCredential{ID: "c"}); err != nil {
		t.Fatalf("CreateAdminCredential: %v", err)
	}
	checkRevision(t, s, 3)
}

func testConcurrentCreateEntry(t *testing.T, s *store.Store) {
	const workers, each = 8, 10
	var (
		mu        sync.Mutex
		revisions []int64
		won       int
		wg        sync.WaitGroup
	)
	shared := newEntry("shared")
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := newEntry(fmt.Sprintf("w%d-%02d", w, i))
				if err := s.CreateEntry(t.Context(), &e); err != nil {
					t.Errorf("CreateEntry(%q): %v", e.ID, err)
					return
				}
				mu.Lock()
				revisions = append(revisions, e.Revision)
				mu.Unlock()
			}
			// Every worker tries the same identity under its own ID.
			e := shared
			e.ID = fmt.Sprintf("shared-%d", w)
			err := s.CreateEntry(t.Context(), &e)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
				revisions = append(revisions, e.Revision)
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("CreateEntry(%q) error = %v, want nil or ErrConflict", e.ID, err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d workers created the shared identity, want 1", won)
	}
	// Every successful write got its own revision, and failed ones none.
	n := int64(len(revisions))
	slices.Sort(revisions)
	for i, r := range revisions {
		if r != int64(i)+1 {
			t.Fatalf("revisions %v are not 1..%d", revisions, n)
		}
	}
	checkRevision(t, s, n)
	got, err := s.ListEntries(t.Context(), store.EntryFilter{Limit: 1000})
	if err != nil {
		t.Fatalf("ListEntries: %v", err)
	}
	if int64(len(got)) != n {
		t.Errorf("ListEntries returned %d entries, want %d", len(got), n)
	}
}
