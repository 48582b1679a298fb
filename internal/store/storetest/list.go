package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kith-dev/kith/internal/store"
)

// seedEntries creates n entries in one transaction, with IDs whose byte
// order differs from a case-insensitive one, two parents and entries any
// agent may serve, two statuses, and SPIFFE IDs shared in pairs. It
// returns them in ID order.
func seedEntries(t testing.TB, s *store.Store, n int) []store.Entry {
	t.Helper()
	var all []store.Entry
	err := s.Tx(t.Context(), func(tx *store.Tx) error {
		for i := range n {
			id := fmt.Sprintf("e%04d", i)
			switch i % 3 {
			case 1:
				id = strings.ToUpper(id)
			case 2:
				id = "_" + id
			}
			e := newEntry(id)
			e.SPIFFEID = fmt.Sprintf("spiffe://example.org/w%d", i/2)
			e.ParentID = fmt.Sprintf("spiffe://example.org/agent/%d", i%2)
			if i%5 == 3 {
				e.ParentID, e.AnyAgent = "", true
			}
			if i%4 == 0 {
				e.Status = "disabled"
			}
			if err := tx.CreateEntry(t.Context(), &e); err != nil {
				return err
			}
			all = append(all, normEntry(e))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed %d entries: %v", n, err)
	}
	slices.SortFunc(all, func(a, b store.Entry) int { return strings.Compare(a.ID, b.ID) })
	return all
}

func testListEntries(t *testing.T, s *store.Store) {
	all := seedEntries(t, s, 25)
	match := func(keep func(e store.Entry) bool) []store.Entry {
		var out []store.Entry
		for _, e := range all {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	tests := []struct {
		name   string
		filter store.EntryFilter
		want   []store.Entry
	}{
		{"all", store.EntryFilter{}, all},
		{"SPIFFE ID", store.EntryFilter{SPIFFEID: "spiffe://example.org/w3"},
			match(func(e store.Entry) bool { return e.SPIFFEID == "spiffe://example.org/w3" })},
		{"parent", store.EntryFilter{ParentID: "spiffe://example.org/agent/1"},
			match(func(e store.Entry) bool { return e.ParentID == "spiffe://example.org/agent/1" })},
		{"status", store.EntryFilter{Status: "disabled"},
			match(func(e store.Entry) bool { return e.Status == "disabled" })},
		{"parent and status", store.EntryFilter{ParentID: "spiffe://example.org/agent/0", Status: "active"},
			match(func(e store.Entry) bool {
				return e.ParentID == "spiffe://example.org/agent/0" && e.Status == "active"
			})},
		{"any agent", store.EntryFilter{AnyAgent: true}, match(func(e store.Entry) bool { return e.AnyAgent })},
		{"any agent and status", store.EntryFilter{AnyAgent: true, Status: "active"},
			match(func(e store.Entry) bool { return e.AnyAgent && e.Status == "active" })},
		{"after", store.EntryFilter{After: all[20].ID}, all[21:]},
		{"after a missing ID", store.EntryFilter{After: "E"}, match(func(e store.Entry) bool { return e.ID > "E" })},
		{"after the last", store.EntryFilter{After: all[24].ID}, nil},
		{"limit", store.EntryFilter{Limit: 3}, all[:3]},
		{"after and limit", store.EntryFilter{After: all[2].ID, Limit: 4}, all[3:7]},
		{"no match", store.EntryFilter{Status: "nope"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListEntries(t.Context(), tc.filter)
			if err != nil {
				t.Fatalf("ListEntries: %v", err)
			}
			if len(got) == 0 && got != nil {
				t.Errorf("ListEntries returned an empty non-nil slice")
			}
			if d := diff("ListEntries", tc.want, got); d != "" {
				t.Error(d)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		var got []store.Entry
		f := store.EntryFilter{Status: "active", Limit: 4}
		for pages := 0; ; pages++ {
			if pages > 25 {
				t.Fatal("pagination does not end")
			}
			page, err := s.ListEntries(t.Context(), f)
			if err != nil {
				t.Fatalf("ListEntries: %v", err)
			}
			if len(page) > f.Limit {
				t.Fatalf("page of %d entries, limit %d", len(page), f.Limit)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			f.After = page[len(page)-1].ID
		}
		want := match(func(e store.Entry) bool { return e.Status == "active" })
		if d := diff("entries over all pages", want, got); d != "" {
			t.Error(d)
		}
	})
}

func testListEntriesLimits(t *testing.T, s *store.Store) {
	all := seedEntries(t, s, 1001)
	tests := []struct {
		limit int
		want  int
	}{
		{0, 100},
		{-1, 100},
		{1, 1},
		{1000, 1000},
		{1001, 1000},
		{1 << 30, 1000},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("limit ", tc.limit), func(t *testing.T) {
			got, err := s.ListEntries(t.Context(), store.EntryFilter{Limit: tc.limit})
			if err != nil {
				t.Fatalf("ListEntries: %v", err)
			}
			if len(got) != tc.want {
				t.Fatalf("ListEntries returned %d entries, want %d", len(got), tc.want)
			}
			if got[len(got)-1].ID != all[tc.want-1].ID {
				t.Errorf("last entry %q, want %q", got[len(got)-1].ID, all[tc.want-1].ID)
			}
		})
	}
}
