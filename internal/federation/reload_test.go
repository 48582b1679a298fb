package federation

import (
	"errors"
	"testing"
)

func TestReloadFollowsOtherReplicas(t *testing.T) {
	fs := newForeign(t)
	a := newFixture(t)
	b, err := New(t.Context(), Config{OwnTrustDomain: ownTD, Store: a.store, Auditor: a.audit, Clock: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sequence := func(t *testing.T) uint64 {
		t.Helper()
		bundle, err := b.GetBundleForTrustDomain(foreignTD)
		if err != nil {
			t.Fatalf("replica b: %v", err)
		}
		return bundleSequence(bundle)
	}
	steps := []struct {
		name   string
		change func(t *testing.T)
		check  func(t *testing.T)
	}{
		{"added elsewhere", func(t *testing.T) { a.mustAdd(t, fs) }, func(t *testing.T) {
			if got := sequence(t); got != 1 {
				t.Errorf("sequence = %d, want 1", got)
			}
		}},
		{"refreshed elsewhere", func(t *testing.T) {
			fs.ep.setBody(marshal(t, newBundle(foreignTD, 2, fs.ca)))
			if _, err := a.m.Refresh(t.Context(), foreignTD); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T) {
			if got := sequence(t); got != 2 {
				t.Errorf("sequence = %d, want 2", got)
			}
		}},
		{"removed elsewhere", func(t *testing.T) {
			if err := a.m.Remove(t.Context(), admin, foreignTD); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T) {
			if _, err := b.GetBundleForTrustDomain(foreignTD); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetBundleForTrustDomain error = %v, want ErrNotFound", err)
			}
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.change(t)
			if err := b.Reload(t.Context()); err != nil {
				t.Fatalf("Reload: %v", err)
			}
			step.check(t)
		})
	}
}
