package federation

import (
	"errors"
	"testing"

	"github.com/kith-dev/kith/internal/audit"
)

func TestRemove(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t)
	f.mustAdd(t, fs)

	if err := f.m.Remove(t.Context(), admin, foreignTD); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if f.store.len() != 0 {
		t.Error("relationship still stored")
	}
	if _, err := f.m.GetBundleForTrustDomain(foreignTD); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetBundleForTrustDomain error = %v, want ErrNotFound", err)
	}
	if got, _ := f.m.List(t.Context()); len(got) != 0 {
		t.Errorf("List = %v, want empty", got)
	}
	if ev := f.audit.last(t); ev.Type != "federation.removed" || ev.Actor != admin || ev.Outcome != audit.OutcomeSuccess {
		t.Errorf("audit event = %+v, want a successful federation.removed by admin", ev)
	}
	if _, err := f.m.Refresh(t.Context(), foreignTD); !errors.Is(err, ErrNotFound) {
		t.Errorf("Refresh after Remove error = %v, want ErrNotFound", err)
	}
	if err := f.m.Remove(t.Context(), admin, foreignTD); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove error = %v, want ErrNotFound", err)
	}
	// The trust domain can be federated again.
	f.mustAdd(t, fs)
}

func TestRemoveStoredByAnotherReplica(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t)
	other, err := New(t.Context(), Config{OwnTrustDomain: ownTD, Store: f.store, Auditor: f.audit})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Add(t.Context(), admin, fs.rel, fs.bootstrap(t)); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Remove(t.Context(), admin, foreignTD); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if f.store.len() != 0 {
		t.Error("relationship still stored")
	}
}

func TestRemoveKeptWhenAuditFails(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t)
	f.mustAdd(t, fs)
	f.audit.setFail(errors.New("ledger down"))
	if err := f.m.Remove(t.Context(), admin, foreignTD); err == nil {
		t.Fatal("Remove succeeded with a failing ledger")
	}
	if f.store.len() != 1 {
		t.Error("stored relationship not put back")
	}
	f.held(t, foreignTD)
}
