package policyset

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/ledger/ledgertest"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/store"
)

func newService(t *testing.T) (*Service, *ledgertest.Events, *atomic.Int64) {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{URL: filepath.Join(t.TempDir(), "kith.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := &ledgertest.Events{}
	changed := new(atomic.Int64) // Changed is called by concurrent Applies
	svc, err := NewService(ServiceConfig{Store: st, Auditor: a, Changed: func() { changed.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	return svc, a, changed
}

func parseDocs(t *testing.T, src string) []policy.Document {
	t.Helper()
	docs, err := policy.Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func TestServiceLifecycle(t *testing.T) {
	svc, events, changed := newService(t)
	ctx := t.Context()
	admin := audit.Actor{Kind: "admin", ID: "admin-1"}
	a := "name: a\ntarget: spiffe://example.org/a\nrules:\n  - action: allow\n"
	b := "name: b\ntarget: spiffe://example.org/b\nrules:\n  - action: deny\n"
	a2 := "name: a\ntarget: spiffe://example.org/a\nrules:\n  - action: audit\n"

	cur, err := svc.Current(ctx)
	if err != nil || cur.Revision != 0 || len(cur.Documents) != 0 {
		t.Fatalf("Current of an empty store = %+v, %v", cur, err)
	}
	steps := []struct {
		name    string
		apply   string // documents to apply, or
		delete  string // a name to delete
		wantRev int64
		want    []string // name:kind
		wantErr error
	}{
		{name: "create two", apply: a + "---\n" + b, wantRev: 1, want: []string{"a:created", "b:created"}},
		{name: "unchanged", apply: a, wantRev: 1, want: []string{"a:unchanged"}},
		{name: "update one", apply: a2, wantRev: 2, want: []string{"a:updated"}},
		{name: "delete", delete: "b", wantRev: 3, want: []string{"b:deleted"}},
		{name: "delete unknown", delete: "b", wantErr: ErrNotFound},
	}
	for _, st := range steps {
		var res *ApplyResult
		var err error
		if st.delete != "" {
			res, err = svc.Delete(ctx, admin, st.delete)
		} else {
			res, err = svc.Apply(ctx, admin, parseDocs(t, st.apply))
		}
		if st.wantErr != nil {
			if !errors.Is(err, st.wantErr) {
				t.Errorf("%s: %v, want %v", st.name, err, st.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		var got []string
		for _, c := range res.Changes {
			got = append(got, c.Name+":"+c.Kind)
		}
		if res.Revision != st.wantRev || !cmp.Equal(got, st.want) {
			t.Errorf("%s: revision %d %v, want %d %v", st.name, res.Revision, got, st.wantRev, st.want)
		}
	}
	if n := changed.Load(); n != 3 {
		t.Errorf("Changed called %d times, want 3 (once per revision)", n)
	}
	var types []string
	for _, ev := range events.All() {
		types = append(types, ev.Type+"@"+ev.Details["policies"])
		if ev.Actor != admin || ev.Policy == nil || ev.Details["sha256"] == "" {
			t.Errorf("event %+v lacks actor, revision or digest", ev)
		}
	}
	if want := []string{"policy.applied@2", "policy.applied@2", "policy.deleted@1"}; !cmp.Equal(types, want) {
		t.Errorf("ledger events %v, want %v", types, want)
	}
	if events.All()[1].Details["updated"] != "a" || events.All()[1].Policy.Revision != 2 {
		t.Errorf("update event = %+v", events.All()[1])
	}
	d, rev, err := svc.Get(ctx, "a")
	if err != nil || rev != 3 || d.Rules[0].Action != policy.ActionAudit {
		t.Errorf("Get(a) = %+v, %d, %v", d, rev, err)
	}
	if _, _, err := svc.Get(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(b) after delete: %v, want ErrNotFound", err)
	}
}

func TestServiceRefusesInvalidPolicies(t *testing.T) {
	svc, events, _ := newService(t)
	_, err := svc.Apply(t.Context(), audit.Actor{ID: "x"}, []policy.Document{{Name: "p", Target: "spiffe://example.org/a", Rules: []policy.Rule{{When: "nope"}}}})
	var list policy.ErrorList
	if !errors.As(err, &list) || !strings.Contains(err.Error(), "rules[0].when") {
		t.Fatalf("Apply of an invalid policy: %v, want an ErrorList naming rules[0].when", err)
	}
	if cur, _ := svc.Current(t.Context()); cur.Revision != 0 || len(events.All()) != 0 {
		t.Errorf("an invalid apply stored revision %d and %d events", cur.Revision, len(events.All()))
	}
}

// TestServiceConcurrentApply shows that concurrent applies each get their
// own revision and none is lost.
func TestServiceConcurrentApply(t *testing.T) {
	svc, _, _ := newService(t)
	const n = 6
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := string(rune('a' + i))
			docs := []policy.Document{{Name: name, Target: "spiffe://example.org/" + name}}
			if _, err := svc.Apply(t.Context(), audit.Actor{ID: "x"}, docs); err != nil {
				t.Errorf("Apply %s: %v", name, err)
			}
		})
	}
	wg.Wait()
	cur, err := svc.Current(t.Context())
	if err != nil || cur.Revision != n || len(cur.Documents) != n {
		t.Errorf("after %d applies: revision %d with %d policies, %v", n, cur.Revision, len(cur.Documents), err)
	}
}

// TestServiceAuditOfLargeSet: applying thousands of policies with long
// names records an event that fits a ledger entry, naming as many
// policies as fit and counting the rest.
func TestServiceAuditOfLargeSet(t *testing.T) {
	svc, events, _ := newService(t)
	var b strings.Builder
	const n = 1500
	for i := range n {
		fmt.Fprintf(&b, "---\nname: %s-%04d\ntarget: spiffe://example.org/a\nrules:\n  - action: allow\n", strings.Repeat("p", 120), i)
	}
	res, err := svc.Apply(t.Context(), audit.Actor{Kind: "admin", ID: "admin-1"}, parseDocs(t, b.String()))
	if err != nil || len(res.Changes) != n {
		t.Fatalf("Apply of %d policies: %v", n, err)
	}
	if len(events.All()) != 1 {
		t.Fatalf("%d events recorded, want 1", len(events.All()))
	}
	ev := events.All()[0]
	data, err := audit.Marshal(ev)
	if err != nil || len(data)+32 > ledger.MaxEntrySize {
		t.Fatalf("the event takes %d bytes (%v); the ledger holds at most %d", len(data), err, ledger.MaxEntrySize)
	}
	if ev.Details["policies"] != fmt.Sprint(n) || !strings.Contains(ev.Details[policy.ChangeCreated], " more)") ||
		!strings.Contains(ev.Reason, " more)") {
		t.Errorf("event details %v, reason %q: want the count and the names that fit", ev.Details, ev.Reason)
	}
	if len(ev.Reason) > 8<<10 {
		t.Errorf("summary of %d bytes, want a line of at most 8 KiB", len(ev.Reason))
	}
}

// TestServiceAuditFailureStoresNothing: when the revision's audit event
// cannot be written, the revision is not stored either.
func TestServiceAuditFailureStoresNothing(t *testing.T) {
	svc, events, changed := newService(t)
	events.Fail(errors.New("ledger down"))
	_, err := svc.Apply(t.Context(), audit.Actor{Kind: "admin", ID: "admin-1"},
		parseDocs(t, "name: a\ntarget: spiffe://example.org/a\nrules:\n  - action: allow\n"))
	if err == nil || !strings.Contains(err.Error(), "ledger down") {
		t.Fatalf("Apply = %v, want the ledger's error", err)
	}
	if cur, err := svc.Current(t.Context()); err != nil || cur.Revision != 0 {
		t.Errorf("Current = revision %d, %v; want nothing stored", cur.Revision, err)
	}
	if n := changed.Load(); n != 0 {
		t.Errorf("Changed called %d times for a change that did not happen", n)
	}
}
