package federation

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/store"
)

// The real store satisfies Store.
var _ Store = (*store.Store)(nil)

// TestWithSQLiteStore runs Add, reload and Remove against the real store
// on a SQLite file.
func TestWithSQLiteStore(t *testing.T) {
	st, err := store.Open(t.Context(), store.Config{URL: filepath.Join(t.TempDir(), "kith.db")})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	fs := newForeign(t)
	f := newFixture(t, func(c *Config) { c.Store = st })
	f.mustAdd(t, fs)
	fs.ep.setBody(marshal(t, newBundle(foreignTD, 2, fs.ca)))
	if _, err := f.m.Refresh(t.Context(), foreignTD); err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	again, err := New(t.Context(), Config{OwnTrustDomain: ownTD, Store: st, Auditor: f.audit})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	want, _ := f.m.List(t.Context())
	got, _ := again.List(t.Context())
	if diff := cmp.Diff(want, got, cmpSPIFFE()); diff != "" {
		t.Errorf("List after reload (-want +got):\n%s", diff)
	}
	if err := again.Remove(t.Context(), admin, foreignTD); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := f.m.Refresh(t.Context(), foreignTD); err == nil {
		t.Error("Refresh of a relationship removed by another Manager succeeded")
	}
	if recs, _ := st.ListFederations(t.Context()); len(recs) != 0 {
		t.Errorf("store holds %d relationships after Remove, want 0", len(recs))
	}
}
