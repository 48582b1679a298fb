package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

func newJoinToken(id string, expires time.Time) store.JoinToken {
	return store.JoinToken{ID: id, Hash: []byte("hash-" + id), CreatedAt: t0, ExpiresAt: expires}
}

func newAgent(id string, at time.Time) store.Agent {
	return store.Agent{ID: id, SPIFFEID: "spiffe://example.org/kith/agent/" + id, Serial: "ab" + id,
		SVIDExpiresAt: at.Add(time.Hour), CreatedAt: at}
}

func mustCreateJoinToken(t testing.TB, s *store.Store, tok store.JoinToken) {
	t.Helper()
	if err := s.CreateJoinToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateJoinToken(%q): %v", tok.ID, err)
	}
}

func testJoinTokens(t *testing.T, s *store.Store) {
	ctx := t.Context()
	tok := newJoinToken("jt1", t0.Add(time.Hour))
	mustCreateJoinToken(t, s, tok)
	if err := s.CreateJoinToken(ctx, tok); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateJoinToken again: %v, want ErrConflict", err)
	}
	got, err := s.GetJoinToken(ctx, "jt1")
	if err != nil {
		t.Fatal(err)
	}
	want := store.JoinToken{ID: "jt1", Hash: []byte("hash-jt1"), CreatedAt: norm(t0), ExpiresAt: norm(t0.Add(time.Hour))}
	if d := diff("GetJoinToken", want, got); d != "" {
		t.Error(d)
	}
	if _, err := s.GetJoinToken(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetJoinToken(unknown): %v, want ErrNotFound", err)
	}
	mustCreateJoinToken(t, s, newJoinToken("jt-expired", t0.Add(time.Minute)))

	steps := []struct {
		name  string
		token string
		agent store.Agent
		want  error
	}{
		{"first use", "jt1", newAgent("a1", t0.Add(time.Second)), nil},
		{"second use", "jt1", newAgent("a2", t0.Add(2*time.Second)), store.ErrConflict},
		{"unknown token", "nope", newAgent("a3", t0), store.ErrNotFound},
		{"expired token", "jt-expired", newAgent("a4", t0.Add(time.Minute)), store.ErrConflict},
	}
	for _, st := range steps {
		if err := s.RegisterAgent(ctx, st.token, st.agent); !wantErr(err, st.want) {
			t.Errorf("%s: RegisterAgent: %v, want %v", st.name, err, st.want)
		}
	}
	got, err = s.GetJoinToken(ctx, "jt1")
	if err != nil {
		t.Fatal(err)
	}
	if got.AgentID != "a1" || !got.UsedAt.Equal(norm(t0.Add(time.Second))) {
		t.Errorf("used token = %+v, want used by a1 at t0+1s", got)
	}
	for _, id := range []string{"a2", "a3", "a4"} {
		if _, err := s.GetAgent(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAgent(%s) of a refused registration: %v, want ErrNotFound", id, err)
		}
	}
	// An agent ID clash leaves the token unused.
	mustCreateJoinToken(t, s, newJoinToken("jt2", t0.Add(time.Hour)))
	if err := s.RegisterAgent(ctx, "jt2", newAgent("a1", t0)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RegisterAgent with an existing agent ID: %v, want ErrConflict", err)
	}
	if got, _ := s.GetJoinToken(ctx, "jt2"); !got.UsedAt.IsZero() {
		t.Error("a failed registration consumed the token")
	}

	n, err := s.DeleteExpiredJoinTokens(ctx, t0.Add(30*time.Minute))
	if err != nil || n != 1 {
		t.Errorf("DeleteExpiredJoinTokens = %d, %v; want 1", n, err)
	}
	if _, err := s.GetJoinToken(ctx, "jt-expired"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired token still there: %v", err)
	}
}

func testConcurrentRegisterAgent(t *testing.T, s *store.Store) {
	mustCreateJoinToken(t, s, newJoinToken("jt", t0.Add(time.Hour)))
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.RegisterAgent(t.Context(), "jt", newAgent(fmt.Sprintf("agent-%d", i), t0))
		})
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("RegisterAgent %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d registrations won with one token, want exactly 1", wins)
	}
	agents, err := s.ListAgents(t.Context(), store.AgentFilter{})
	if err != nil || len(agents) != 1 {
		t.Errorf("ListAgents = %d agents, %v; want 1", len(agents), err)
	}
}

func testAgents(t *testing.T, s *store.Store) {
	ctx := t.Context()
	for _, id := range []string{"b", "a", "c"} {
		mustCreateJoinToken(t, s, newJoinToken("jt-"+id, t0.Add(time.Hour)))
		if err := s.RegisterAgent(ctx, "jt-"+id, newAgent(id, t0)); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ListAgents(ctx, store.AgentFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].ID != "a" || page[1].ID != "b" {
		t.Fatalf("first page = %+v, want a, b", page)
	}
	if page, _ = s.ListAgents(ctx, store.AgentFilter{After: "b"}); len(page) != 1 || page[0].ID != "c" {
		t.Errorf("second page = %+v, want c", page)
	}

	renewedAt, expires := t0.Add(30*time.Minute), t0.Add(90*time.Minute)
	if err := s.RenewAgent(ctx, "a", "ff01", expires, renewedAt); err != nil {
		t.Fatal(err)
	}
	evicted, err := s.EvictAgent(ctx, "a", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := store.Agent{ID: "a", SPIFFEID: "spiffe://example.org/kith/agent/a", JoinTokenID: "jt-a", Serial: "ff01",
		SVIDExpiresAt: norm(expires), CreatedAt: norm(t0), RenewedAt: norm(renewedAt), EvictedAt: norm(t0.Add(time.Hour))}
	if d := diff("EvictAgent", want, evicted); d != "" {
		t.Error(d)
	}
	if got, err := s.GetAgent(ctx, "a"); err != nil || diff("GetAgent", want, got) != "" {
		t.Errorf("GetAgent: %v\n%s", err, diff("GetAgent", want, got))
	}

	errCases := []struct {
		name string
		err  error
		want error
	}{
		{"evict again", second(s.EvictAgent(ctx, "a", t0.Add(2*time.Hour))), store.ErrConflict},
		{"evict unknown", second(s.EvictAgent(ctx, "zz", t0)), store.ErrNotFound},
		{"renew evicted", s.RenewAgent(ctx, "a", "ff02", expires, renewedAt), store.ErrConflict},
		{"renew unknown", s.RenewAgent(ctx, "zz", "ff02", expires, renewedAt), store.ErrNotFound},
		{"get unknown", second(s.GetAgent(ctx, "zz")), store.ErrNotFound},
	}
	for _, tc := range errCases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if got, _ := s.GetAgent(ctx, "a"); !got.EvictedAt.Equal(norm(t0.Add(time.Hour))) {
		t.Errorf("a second eviction moved EvictedAt to %v", got.EvictedAt)
	}
}

// second returns the error of a two-result call.
func second[T any](_ T, err error) error { return err }

func testAgentSVIDs(t *testing.T, s *store.Store) {
	ctx := t.Context()
	svids := []store.AgentSVID{
		{Serial: "03", AgentID: "a", EntryID: "e1", SPIFFEID: "spiffe://example.org/w1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{Serial: "01", AgentID: "a", EntryID: "e1", SPIFFEID: "spiffe://example.org/w1", IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)},
		{Serial: "02", AgentID: "a", EntryID: "e2", SPIFFEID: "spiffe://example.org/w2", IssuedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)},
		{Serial: "04", AgentID: "b", EntryID: "e1", SPIFFEID: "spiffe://example.org/w1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
	}
	for _, sv := range svids {
		if err := s.PutAgentSVID(ctx, sv); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutAgentSVID(ctx, svids[0]); !errors.Is(err, store.ErrConflict) {
		t.Errorf("PutAgentSVID again: %v, want ErrConflict", err)
	}
	normSVID := func(sv store.AgentSVID) store.AgentSVID {
		sv.IssuedAt, sv.ExpiresAt = norm(sv.IssuedAt), norm(sv.ExpiresAt)
		return sv
	}
	tests := []struct {
		name string
		f    store.AgentSVIDFilter
		want []store.AgentSVID
	}{
		{"all of an agent", store.AgentSVIDFilter{AgentID: "a"},
			[]store.AgentSVID{normSVID(svids[1]), normSVID(svids[2]), normSVID(svids[0])}},
		{"still valid", store.AgentSVIDFilter{AgentID: "a", ExpiresAfter: t0.Add(30 * time.Minute)},
			[]store.AgentSVID{normSVID(svids[2]), normSVID(svids[0])}},
		{"paged", store.AgentSVIDFilter{AgentID: "a", After: "01", Limit: 1}, []store.AgentSVID{normSVID(svids[2])}},
		{"other agent", store.AgentSVIDFilter{AgentID: "b"}, []store.AgentSVID{normSVID(svids[3])}},
		{"unknown agent", store.AgentSVIDFilter{AgentID: "zz"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAgentSVIDs(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff("ListAgentSVIDs", tc.want, got); d != "" {
				t.Error(d)
			}
		})
	}
	n, err := s.DeleteExpiredAgentSVIDs(ctx, t0.Add(90*time.Minute))
	if err != nil || n != 3 {
		t.Errorf("DeleteExpiredAgentSVIDs = %d, %v; want 3", n, err)
	}
	if got, _ := s.ListAgentSVIDs(ctx, store.AgentSVIDFilter{AgentID: "a"}); len(got) != 1 || got[0].Serial != "02" {
		t.Errorf("after pruning: %+v, want only 02", got)
	}
}
