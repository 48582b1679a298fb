package store_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/store"
)

// TestMigrateEntriesAnyAgent: entries stored before the any_agent opt-in
// keep their meaning. One without a parent was served by every agent and
// is marked so; one with a parent is not.
func TestMigrateEntriesAnyAgent(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			url := be.url(t)
			db, rebind, err := store.MigrateForTest(t.Context(), url, 6)
			if err != nil {
				t.Fatalf("migrate to 6: %v", err)
			}
			for _, e := range []struct{ id, parent string }{{"unparented", ""}, {"parented", "spiffe://example.org/kith/agent/n1"}} {
				if _, err := db.ExecContext(t.Context(), rebind(`INSERT INTO entries (id, spiffe_id, parent_id, selectors, selectors_key,
					owner, business_function, description, max_scopes, x509_svid_ttl, jwt_svid_ttl, labels, status, revision)
					VALUES (?, ?, ?, '["unix:uid:1"]', ?, '', '', '', '[]', 0, 0, '{}', 'active', 1)`),
					e.id, "spiffe://example.org/"+e.id, e.parent, e.id); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			s := open(t, url, nil)
			for id, want := range map[string]bool{"unparented": true, "parented": false} {
				e, err := s.GetEntry(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				if e.AnyAgent != want {
					t.Errorf("entry %s: AnyAgent %v after migration, want %v", id, e.AnyAgent, want)
				}
			}
			got, err := s.ListEntries(t.Context(), store.EntryFilter{AnyAgent: true})
			if err != nil || len(got) != 1 || got[0].ID != "unparented" {
				t.Errorf("ListEntries(AnyAgent) = %v, %v; want the unparented entry", got, err)
			}
		})
	}
}
