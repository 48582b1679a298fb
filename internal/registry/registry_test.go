package registry

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger/ledgertest"
	"github.com/kith-dev/kith/internal/store"
)

// recorder keeps the registry's events.
type recorder struct{ ledgertest.Events }

func (r *recorder) types() []string {
	var out []string
	for _, ev := range r.All() {
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
		Store:       openStore(t),
		Auditor:     rec,
		Clock:       func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, rec
}

// openStore returns an empty SQLite store, closed when the test ends.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "kith.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var admin = audit.Actor{Kind: "admin", ID: "admin-1"}

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
		{"parent and any agent", func(s *Spec) { s.AnyAgent = true }, "any_agent"},
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

// TestAuditFailureStoresNoChange: when a change's audit event cannot be
// written, the change is not stored either, and its failure is recorded.
func TestAuditFailureStoresNoChange(t *testing.T) {
	r, rec := newTestRegistry(t)
	e, err := r.Create(t.Context(), admin, validSpec())
	if err != nil {
		t.Fatal(err)
	}
	rec.FailTx(errors.New("ledger down"))
	spec := validSpec()
	spec.SPIFFEID = "spiffe://example.org/other"
	if _, err := r.Create(t.Context(), admin, spec); err == nil || !strings.Contains(err.Error(), "ledger down") {
		t.Errorf("Create = %v, want the ledger's error", err)
	}
	if err := r.Delete(t.Context(), admin, e.ID); err == nil {
		t.Error("Delete succeeded without its audit event")
	}
	if list, _, err := r.List(t.Context(), Filter{}); err != nil || len(list) != 1 || list[0].ID != e.ID {
		t.Errorf("entries after failed audits: %v, %v; want only the first", list, err)
	}
	if got := rec.types(); !slices.Equal(got, []string{"entry.created:success", "entry.created:failure"}) {
		t.Errorf("events %v", got)
	}
}

// TestServedBy: an entry is served by its parent, by any agent only when
// asked for, or by none; the opt-in is kept, listed and recorded.
func TestServedBy(t *testing.T) {
	ctx := t.Context()
	r, _ := newTestRegistry(t)
	parented, err := r.Create(ctx, admin, validSpec())
	if err != nil {
		t.Fatal(err)
	}
	none := validSpec()
	none.SPIFFEID, none.ParentID = "spiffe://example.org/batch", ""
	serverOnly, err := r.Create(ctx, admin, none)
	if err != nil {
		t.Fatal(err)
	}
	any := none
	any.SPIFFEID, any.AnyAgent = "spiffe://example.org/everywhere", true
	anyAgent, err := r.Create(ctx, admin, any)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		e        Entry
		anyAgent bool
	}{{parented, false}, {serverOnly, false}, {anyAgent, true}} {
		got, err := r.Get(ctx, tc.e.ID)
		if err != nil || got.AnyAgent != tc.anyAgent || got.Spec().AnyAgent != tc.anyAgent {
			t.Errorf("%s: AnyAgent %v (%v), want %v", tc.e.SPIFFEID, got.AnyAgent, err, tc.anyAgent)
		}
	}
	list, _, err := r.List(ctx, Filter{AnyAgent: true})
	if err != nil || len(list) != 1 || list[0].ID != anyAgent.ID {
		t.Errorf("List(AnyAgent) = %v, %v; want the opted-in entry only", list, err)
	}
	if ev := successEvent(admin, "entry.created", "create", anyAgent); ev.Details["any_agent"] != "true" {
		t.Errorf("the event of an any-agent entry does not say so: %v", ev.Details)
	}
}
