package registry

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

// fakeAgents is the server's agents as the registry sees them.
type fakeAgents map[string]bool // SPIFFE ID → evicted

func (f fakeAgents) Agent(_ context.Context, id spiffeid.ID) (bool, bool, error) {
	evicted, ok := f[id.String()]
	return ok, evicted, nil
}

func newCheckedRegistry(t *testing.T, agents fakeAgents) (*Registry, *store.Store) {
	t.Helper()
	st := openStore(t)
	r, err := New(Config{TrustDomain: spiffeid.RequireTrustDomainFromString("example.org"), Store: st, Auditor: &recorder{}, Agents: agents})
	if err != nil {
		t.Fatal(err)
	}
	return r, st
}

// TestUnknownSelectorTypes: a selector no agent reports can never match,
// so a type other than those agents report is refused, naming the field
// and the known types; entries stored before keep what they had.
func TestUnknownSelectorTypes(t *testing.T) {
	ctx := t.Context()
	r, st := newCheckedRegistry(t, nil)
	for _, tc := range []struct{ sel, want string }{
		{"k8s:ns:default", `selector "k8s:ns:default": unknown type "k8s" (known types: unix)`},
		{"uid:1000", `selector "uid:1000": unknown type "uid" (known types: unix; did you mean "unix:uid:1000"?)`},
		{"docker:label:x", `unknown type "docker" (known types: unix)`},
	} {
		spec := validSpec()
		spec.Selectors = []string{"unix:uid:1", tc.sel}
		_, err := r.Create(ctx, admin, spec)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "selectors" || !strings.Contains(ve.Reason, tc.want) {
			t.Errorf("Create with %s: %v; want a selectors error containing %q", tc.sel, err, tc.want)
		}
	}
	// An entry stored with a k8s selector (before types were checked)
	// can still be updated with it, but not given a new unknown one.
	rec := store.Entry{ID: "0123456789abcdef0123456789abcdef", SPIFFEID: "spiffe://example.org/old",
		Selectors: []string{"k8s:ns:payments"}, Status: "active"}
	if err := st.Tx(ctx, func(tx *store.Tx) error { return tx.CreateEntry(ctx, &rec) }); err != nil {
		t.Fatal(err)
	}
	old, err := r.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	spec := old.Spec()
	spec.Owner = "team-payments"
	updated, err := r.Update(ctx, admin, old.ID, spec)
	if err != nil {
		t.Fatalf("Update keeping a stored k8s selector: %v", err)
	}
	spec = updated.Spec()
	spec.Selectors = append(spec.Selectors, "k8s:sa:payments")
	if _, err := r.Update(ctx, admin, old.ID, spec); err == nil || !strings.Contains(err.Error(), `unknown type "k8s"`) {
		t.Errorf("Update adding a k8s selector: %v, want refused", err)
	}
}

// TestParentMustBeAnAgent: a parent is an agent the server knows, not
// evicted; an entry whose parent went away can still be updated otherwise.
func TestParentMustBeAnAgent(t *testing.T) {
	ctx := t.Context()
	r, _ := newCheckedRegistry(t, fakeAgents{"spiffe://example.org/kith/agent/node-1": false, "spiffe://example.org/kith/agent/gone": true})
	e, err := r.Create(ctx, admin, validSpec()) // parent node-1
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ parent, want string }{
		{"spiffe://example.org/kith/agent/nope", "no agent has SPIFFE ID spiffe://example.org/kith/agent/nope (kith agent list shows the agents)"},
		{"spiffe://example.org/web", "no agent has SPIFFE ID spiffe://example.org/web"},
		{"spiffe://example.org/kith/agent/gone", "agent spiffe://example.org/kith/agent/gone was evicted"},
	} {
		spec := validSpec()
		spec.SPIFFEID, spec.ParentID = "spiffe://example.org/other", tc.parent
		_, err := r.Create(ctx, admin, spec)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "parent_id" || !strings.Contains(ve.Reason, tc.want) {
			t.Errorf("Create with parent %s: %v; want a parent_id error containing %q", tc.parent, err, tc.want)
		}
		spec = e.Spec()
		spec.ParentID = tc.parent
		if _, err := r.Update(ctx, admin, e.ID, spec); !errors.As(err, &ve) || ve.Field != "parent_id" {
			t.Errorf("Update to parent %s: %v; want a parent_id error", tc.parent, err)
		}
	}
	// The agent is evicted later: the entry's other fields still change.
	r.agents = fakeAgents{"spiffe://example.org/kith/agent/node-1": true}
	spec := e.Spec()
	spec.Owner = "someone else"
	if _, err := r.Update(ctx, admin, e.ID, spec); err != nil {
		t.Errorf("Update of an entry whose parent was evicted since: %v", err)
	}
}

// fakeDependents are OAuth clients by entry.
type fakeDependents struct{ clients map[string][]string }

func (f *fakeDependents) EntryDependents(_ context.Context, entryID string) ([]string, error) {
	return slices.Clone(f.clients[entryID]), nil
}

func (f *fakeDependents) DeleteEntryDependent(_ context.Context, _ audit.Actor, id string) error {
	for e, cs := range f.clients {
		f.clients[e] = slices.DeleteFunc(cs, func(c string) bool { return c == id })
	}
	return nil
}

// TestDeleteWithClients: an entry that clients act for is kept, and the
// refusal recorded, unless the clients are deleted with it.
func TestDeleteWithClients(t *testing.T) {
	ctx := t.Context()
	deps := &fakeDependents{clients: map[string][]string{}}
	rec := &recorder{}
	r, err := New(Config{TrustDomain: spiffeid.RequireTrustDomainFromString("example.org"), Store: openStore(t), Auditor: rec, Dependents: deps})
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.Create(ctx, admin, validSpec())
	if err != nil {
		t.Fatal(err)
	}
	deps.clients[e.ID] = []string{"ci_a", "ci_b"}
	var inUse *InUseError
	if err := r.Delete(ctx, admin, e.ID); !errors.As(err, &inUse) || !slices.Equal(inUse.Clients, []string{"ci_a", "ci_b"}) ||
		!strings.Contains(err.Error(), "ci_a, ci_b") {
		t.Fatalf("Delete = %v, want an InUseError naming ci_a and ci_b", err)
	}
	if _, err := r.Get(ctx, e.ID); err != nil {
		t.Fatalf("the entry is gone after a refused delete: %v", err)
	}
	deleted, err := r.DeleteCascade(ctx, admin, e.ID)
	if err != nil || !slices.Equal(deleted, []string{"ci_a", "ci_b"}) || len(deps.clients[e.ID]) != 0 {
		t.Fatalf("DeleteCascade = %v, %v; clients left %v", deleted, err, deps.clients[e.ID])
	}
	if _, err := r.Get(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after DeleteCascade: %v", err)
	}
	want := []string{"entry.created:success", "entry.deleted:failure", "entry.deleted:success"}
	if got := rec.types(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if last := rec.All()[len(rec.All())-1]; last.Details["deleted_clients"] != "ci_a,ci_b" {
		t.Errorf("entry.deleted details %v, want deleted_clients", last.Details)
	}
}
