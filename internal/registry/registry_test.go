package registry

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
)

// memStore is an in-memory Store with the contract of package store
// (conflicts on duplicate identity and stale revisions).
type memStore struct {
	mu      sync.Mutex
	rev     int64
	entries map[string]store.Entry
}

func newMemStore() *memStore { return &memStore{entries: map[string]store.Entry{}} }

func key(e store.Entry) string {
	return e.SPIFFEID + "|" + e.ParentID + "|" + strings.Join(e.Selectors, ",")
}

func (m *memStore) dup(e store.Entry) bool {
	for id, o := range m.entries {
		if id != e.ID && key(o) == key(e) {
			return true
		}
	}
	return false
}

func (m *memStore) CreateEntry(_ context.Context, e *store.Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[e.ID]; ok || m.dup(*e) {
		return store.ErrConflict
	}
	m.rev++
	e.Revision = m.rev
	m.entries[e.ID] = *e
	return nil
}

func (m *memStore) GetEntry(_ context.Context, id string) (store.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[id]
	if !ok {
		return store.Entry{}, store.ErrNotFound
	}
	return e, nil
}

func (m *memStore) ListEntries(_ context.Context, f store.EntryFilter) ([]store.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Entry
	for _, e := range m.entries {
		if (f.SPIFFEID == "" || e.SPIFFEID == f.SPIFFEID) && (f.Status == "" || e.Status == f.Status) && e.ID > f.After {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b store.Entry) int { return strings.Compare(a.ID, b.ID) })
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func (m *memStore) UpdateEntry(_ context.Context, e *store.Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.entries[e.ID]
	if !ok {
		return store.ErrNotFound
	}
	if cur.Revision != e.Revision || m.dup(*e) {
		return store.ErrConflict
	}
	m.rev++
	e.Revision = m.rev
	m.entries[e.ID] = *e
	return nil
}

func (m *memStore) DeleteEntry(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[id]; !ok {
		return store.ErrNotFound
	}
	delete(m.entries, id)
	m.rev++
	return nil
}

type recorder struct {
	mu     sync.Mutex
	events []ledger.Event
}

func (r *recorder) Record(_ context.Context, ev ledger.Event) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return int64(len(r.events) - 1), nil
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		out = append(out, ev.Type+":"+string(ev.Outcome))
	}
	return out
}

func newTestRegistry(t testing.TB) (*Registry, *recorder) {
	t.Helper()
	rec := &recorder{}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r, err := New(Config{
		TrustDomain: spiffeid.RequireTrustDomainFromString("example.org"),
		Store:       newMemStore(),
		Auditor:     rec,
		Clock:       func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, rec
}

var admin = ledger.Actor{Kind: "admin", ID: "admin-1"}

func validSpec() Spec {
	return Spec{
		SPIFFEID:         "spiffe://example.org/orders",
		ParentID:         "spiffe://example.org/kith/agent/node-1",
		Selectors:        []string{"unix:uid:1000", "unix:path:/usr/bin/orders", "unix:uid:1000"},
		Owner:            "team-orders",
		BusinessFunction: "order intake",
		MaxScopes:        []string{"orders.read", "orders.write"},
		X509SVIDTTL:      30 * time.Minute,
		Labels:           map[string]string{"env": "prod"},
	}
}

func TestCreateGetUpdateDelete(t *testing.T) {
	ctx := t.Context()
	r, rec := newTestRegistry(t)
	e, err := r.Create(ctx, admin, validSpec())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if len(e.ID) != 32 || e.Status != StatusActive || e.Revision == 0 {
		t.Errorf("Create returned ID %q status %q revision %d", e.ID, e.Status, e.Revision)
	}
	wantSel := []Selector{{"unix", "path:/usr/bin/orders"}, {"unix", "uid:1000"}}
	if diff := cmp.Diff(wantSel, e.Selectors); diff != "" {
		t.Errorf("selectors not canonical (-want +got):\n%s", diff)
	}
	got, err := r.Get(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, got, cmp.Comparer(func(a, b spiffeid.ID) bool { return a == b })); diff != "" {
		t.Errorf("Get differs from Create (-create +get):\n%s", diff)
	}

	spec := got.Spec()
	spec.Status = "quarantined"
	upd, err := r.Update(ctx, admin, e.ID, spec)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if upd.Status != StatusQuarantined || upd.Revision <= e.Revision || !upd.CreatedAt.Equal(e.CreatedAt) {
		t.Errorf("Update gave status %q revision %d (was %d)", upd.Status, upd.Revision, e.Revision)
	}
	// The same stale revision again must conflict.
	if _, err := r.Update(ctx, admin, e.ID, spec); !errors.Is(err, ErrConflict) {
		t.Errorf("stale Update: got %v, want ErrConflict", err)
	}
	if err := r.Delete(ctx, admin, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := r.Delete(ctx, admin, e.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	want := []string{"entry.created:success", "entry.updated:success", "entry.updated:failure", "entry.deleted:success"}
	if diff := cmp.Diff(want, rec.types()); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
}

func TestCreateDuplicateConflicts(t *testing.T) {
	r, _ := newTestRegistry(t)
	if _, err := r.Create(t.Context(), admin, validSpec()); err != nil {
		t.Fatal(err)
	}
	spec := validSpec()
	slices.Reverse(spec.Selectors) // same set, other order
	if _, err := r.Create(t.Context(), admin, spec); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate Create: %v, want ErrConflict", err)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Spec)
		field  string
	}{
		{"missing spiffe id", func(s *Spec) { s.SPIFFEID = "" }, "spiffe_id"},
		{"malformed spiffe id", func(s *Spec) { s.SPIFFEID = "spiffe://Example.org/x" }, "spiffe_id"},
		{"not spiffe scheme", func(s *Spec) { s.SPIFFEID = "https://example.org/x" }, "spiffe_id"},
		{"foreign trust domain", func(s *Spec) { s.SPIFFEID = "spiffe://other.org/orders" }, "spiffe_id"},
		{"no path", func(s *Spec) { s.SPIFFEID = "spiffe://example.org" }, "spiffe_id"},
		{"reserved path", func(s *Spec) { s.SPIFFEID = "spiffe://example.org/kith/server" }, "spiffe_id"},
		{"foreign parent", func(s *Spec) { s.ParentID = "spiffe://other.org/agent" }, "parent_id"},
		{"self parent", func(s *Spec) { s.ParentID = s.SPIFFEID }, "parent_id"},
		{"no selectors", func(s *Spec) { s.Selectors = nil }, "selectors"},
		{"bad selector", func(s *Spec) { s.Selectors = []string{"unix"} }, "selectors"},
		{"bad unix uid", func(s *Spec) { s.Selectors = []string{"unix:uid:-1"} }, "selectors"},
		{"unknown status", func(s *Spec) { s.Status = "paused" }, "status"},
		{"bad scope", func(s *Spec) { s.MaxScopes = []string{"has space"} }, "max_scopes"},
		{"ttl too short", func(s *Spec) { s.X509SVIDTTL = time.Second }, "x509_svid_ttl"},
		{"ttl too long", func(s *Spec) { s.JWTSVIDTTL = 365 * 24 * time.Hour }, "jwt_svid_ttl"},
		{"long owner", func(s *Spec) { s.Owner = strings.Repeat("x", 2000) }, "owner"},
		{"bad utf8", func(s *Spec) { s.Description = "\xff" }, "description"},
		{"empty label key", func(s *Spec) { s.Labels = map[string]string{"": "v"} }, "labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, rec := newTestRegistry(t)
			spec := validSpec()
			tt.modify(&spec)
			_, err := r.Create(t.Context(), admin, spec)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Create: %v, want *ValidationError", err)
			}
			if ve.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", ve.Field, tt.field, err)
			}
			if got := rec.types(); !slices.Equal(got, []string{"entry.created:failure"}) {
				t.Errorf("audit = %v, want one failure", got)
			}
		})
	}
}

func TestListPagination(t *testing.T) {
	r, _ := newTestRegistry(t)
	for i := range 5 {
		spec := validSpec()
		spec.Selectors = []string{"unix:uid:" + string(rune('0'+i))}
		if _, err := r.Create(t.Context(), admin, spec); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	after := ""
	for range 10 {
		page, next, err := r.List(t.Context(), Filter{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			all = append(all, e.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	if len(all) != 5 || !slices.IsSorted(all) {
		t.Errorf("paged list = %v, want 5 sorted IDs", all)
	}
	if _, _, err := r.List(t.Context(), Filter{Status: "nope"}); err == nil {
		t.Error("List with bad status filter succeeded")
	}
}
