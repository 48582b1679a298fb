package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

func testPolicySets(t *testing.T, s *store.Store) {
	ctx := t.Context()
	if rev, err := s.PolicySetRevision(ctx); err != nil || rev != 0 {
		t.Fatalf("PolicySetRevision of an empty store = %d, %v; want 0", rev, err)
	}
	if _, err := s.GetPolicySet(ctx, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPolicySet(latest) of an empty store: %v, want ErrNotFound", err)
	}
	steps := []struct {
		name string
		put  store.PolicySet
		want error
	}{
		{"first", store.PolicySet{Revision: 1, Documents: []byte(`[{"name":"a"}]`), Actor: "admin-1", Summary: "created a", CreatedAt: t0}, nil},
		{"not the next revision", store.PolicySet{Revision: 3, Documents: []byte(`[]`)}, store.ErrConflict},
		{"the same revision again", store.PolicySet{Revision: 1, Documents: []byte(`[]`)}, store.ErrConflict},
		{"second", store.PolicySet{Revision: 2, Documents: []byte(`[]`), Actor: "admin-2", Summary: "deleted a", CreatedAt: t0.Add(time.Minute)}, nil},
	}
	for _, st := range steps {
		ps := st.put
		if err := s.PutPolicySet(ctx, &ps); !wantErr(err, st.want) {
			t.Errorf("%s: PutPolicySet: %v, want %v", st.name, err, st.want)
		}
	}
	latest, err := s.GetPolicySet(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := store.PolicySet{Revision: 2, Documents: []byte(`[]`), Actor: "admin-2", Summary: "deleted a", CreatedAt: norm(t0.Add(time.Minute))}
	if d := diff("GetPolicySet(latest)", want, latest); d != "" {
		t.Error(d)
	}
	first, err := s.GetPolicySet(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(first.Documents) != `[{"name":"a"}]` || first.Actor != "admin-1" || !first.CreatedAt.Equal(norm(t0)) {
		t.Errorf("GetPolicySet(1) = %+v", first)
	}
	if _, err := s.GetPolicySet(ctx, 9); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPolicySet(9): %v, want ErrNotFound", err)
	}
	if rev, err := s.PolicySetRevision(ctx); err != nil || rev != 2 {
		t.Errorf("PolicySetRevision = %d, %v; want 2", rev, err)
	}
	list, err := s.ListPolicySets(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantList := []store.PolicySet{
		{Revision: 2, Actor: "admin-2", Summary: "deleted a", CreatedAt: norm(t0.Add(time.Minute))},
		{Revision: 1, Actor: "admin-1", Summary: "created a", CreatedAt: norm(t0)},
	}
	if d := diff("ListPolicySets", wantList, list); d != "" {
		t.Error(d)
	}
	if list, err := s.ListPolicySets(ctx, 2, 1); err != nil || len(list) != 1 || list[0].Revision != 1 {
		t.Errorf("ListPolicySets(before 2, limit 1) = %+v, %v; want revision 1", list, err)
	}
}

// testConcurrentPutPolicySet shows that of writers racing for the same
// revision exactly one wins and the others get ErrConflict.
func testConcurrentPutPolicySet(t *testing.T, s *store.Store) {
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			errs[i] = s.PutPolicySet(t.Context(), &store.PolicySet{Revision: 1, Documents: []byte(`[]`), Actor: "w"})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("PutPolicySet: %v, want nil or ErrConflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers won revision 1, want exactly 1", won)
	}
}
