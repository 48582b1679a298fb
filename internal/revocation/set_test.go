package revocation_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/revocation/revocationstore"
	"github.com/kith-dev/kith/internal/store"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func openStore(t testing.TB) *revocationstore.Store {
	t.Helper()
	s, err := store.Open(t.Context(), store.Config{URL: filepath.Join(t.TempDir(), "kith.db")})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return revocationstore.New(s)
}

func newSet(t testing.TB, st revocation.Store, c *clock) *revocation.Set {
	t.Helper()
	cfg := revocation.Config{Clock: c.Now}
	if st != nil {
		cfg.Store = st
	}
	s, err := revocation.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func mustRevoke(t testing.TB, s *revocation.Set, e revocation.Entry) revocation.Entry {
	t.Helper()
	got, err := s.Revoke(t.Context(), e)
	if err != nil {
		t.Fatalf("Revoke(%v %q): %v", e.Kind, e.Value, err)
	}
	return got
}

func TestRevoked(t *testing.T) {
	c := &clock{now: t0}
	s := newSet(t, openStore(t), c)
	mustRevoke(t, s, revocation.Entry{Kind: revocation.KindJTI, Value: "tok-1", ExpiresAt: t0.Add(5 * time.Minute), Reason: "leaked"})
	mustRevoke(t, s, revocation.Entry{Kind: revocation.KindClientID, Value: "client-1", Reason: "compromised"})
	mustRevoke(t, s, revocation.Entry{Kind: revocation.KindSPIFFEID, Value: "spiffe://example.org/w", RevokedAt: t0.Add(-time.Hour)})

	tests := []struct {
		name     string
		kind     revocation.Kind
		value    string
		issuedAt time.Time
		want     bool
	}{
		{"revoked jti", revocation.KindJTI, "tok-1", t0.Add(-time.Minute), true},
		{"other jti", revocation.KindJTI, "tok-2", t0.Add(-time.Minute), false},
		{"same value, other kind", revocation.KindClientID, "tok-1", t0.Add(-time.Minute), false},
		{"client token issued before", revocation.KindClientID, "client-1", t0.Add(-time.Second), true},
		{"client token issued in the same second", revocation.KindClientID, "client-1", t0.Add(500 * time.Millisecond), true},
		{"client token issued after", revocation.KindClientID, "client-1", t0.Add(time.Second), false},
		{"spiffe id before the cut-off", revocation.KindSPIFFEID, "spiffe://example.org/w", t0.Add(-2 * time.Hour), true},
		{"spiffe id after the cut-off", revocation.KindSPIFFEID, "spiffe://example.org/w", t0.Add(-30 * time.Minute), false},
		{"unknown kind", revocation.Kind(0), "tok-1", t0, false},
		{"out of range kind", revocation.Kind(200), "tok-1", t0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Revoked(tc.kind, tc.value, tc.issuedAt); got != tc.want {
				t.Errorf("Revoked(%v, %q, %v) = %v, want %v", tc.kind, tc.value, tc.issuedAt, got, tc.want)
			}
			if got := s.IsRevoked(tc.kind.String(), tc.value, tc.issuedAt); got != tc.want {
				t.Errorf("IsRevoked(%q, %q, %v) = %v, want %v", tc.kind.String(), tc.value, tc.issuedAt, got, tc.want)
			}
		})
	}
}

func TestRevokeInvalid(t *testing.T) {
	s := newSet(t, openStore(t), &clock{now: t0})
	tests := []struct {
		name string
		e    revocation.Entry
	}{
		{"no kind", revocation.Entry{Value: "x"}},
		{"no value", revocation.Entry{Kind: revocation.KindJTI}},
		{"huge value", revocation.Entry{Kind: revocation.KindJTI, Value: string(make([]byte, 4096))}},
		{"expires before revoked", revocation.Entry{Kind: revocation.KindJTI, Value: "x", RevokedAt: t0, ExpiresAt: t0.Add(-time.Second)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Revoke(t.Context(), tc.e); !errors.Is(err, revocation.ErrInvalid) {
				t.Errorf("Revoke error = %v, want ErrInvalid", err)
			}
		})
	}
	if n := s.Len(); n != 0 {
		t.Errorf("Len = %d after refused revocations, want 0", n)
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range []revocation.Kind{revocation.KindJTI, revocation.KindClientID, revocation.KindX509Serial, revocation.KindSPIFFEID} {
		got, err := revocation.ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", k.String(), got, err, k)
		}
	}
	if _, err := revocation.ParseKind("jwt"); !errors.Is(err, revocation.ErrInvalid) {
		t.Errorf("ParseKind(jwt) error = %v, want ErrInvalid", err)
	}
}

func TestPersistedAcrossRestarts(t *testing.T) {
	st := openStore(t)
	c := &clock{now: t0}
	first := newSet(t, st, c)
	mustRevoke(t, first, revocation.Entry{Kind: revocation.KindJTI, Value: "a", ExpiresAt: t0.Add(time.Minute)})
	mustRevoke(t, first, revocation.Entry{Kind: revocation.KindX509Serial, Value: "0a1b"})

	second := newSet(t, st, c)
	if !second.Revoked(revocation.KindJTI, "a", t0) || !second.Revoked(revocation.KindX509Serial, "0a1b", t0) {
		t.Error("a restarted set lost a revocation")
	}
	if got := second.Revision(); got != 2 {
		t.Errorf("Revision after load = %d, want 2", got)
	}
	// Expired entries are not loaded.
	c.Add(2 * time.Minute)
	third := newSet(t, st, c)
	if third.Revoked(revocation.KindJTI, "a", t0) {
		t.Error("an expired entry was loaded")
	}
	if third.Len() != 1 {
		t.Errorf("Len = %d, want 1", third.Len())
	}
}

func TestSyncBetweenReplicas(t *testing.T) {
	st := openStore(t)
	c := &clock{now: t0}
	a, b := newSet(t, st, c), newSet(t, st, c)
	mustRevoke(t, a, revocation.Entry{Kind: revocation.KindClientID, Value: "c1"})
	if b.Revoked(revocation.KindClientID, "c1", t0) {
		t.Fatal("b saw a's revocation before syncing")
	}
	if err := b.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if !b.Revoked(revocation.KindClientID, "c1", t0) {
		t.Error("b missed a's revocation after syncing")
	}
	// Widening on b is seen by a.
	c.Add(time.Hour)
	mustRevoke(t, b, revocation.Entry{Kind: revocation.KindClientID, Value: "c1"})
	if a.Revoked(revocation.KindClientID, "c1", t0.Add(30*time.Minute)) {
		t.Fatal("a saw the widening before syncing")
	}
	if err := a.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if !a.Revoked(revocation.KindClientID, "c1", t0.Add(30*time.Minute)) {
		t.Error("a missed the widening")
	}
}

func TestSince(t *testing.T) {
	c := &clock{now: t0}
	s := newSet(t, openStore(t), c)
	e1 := mustRevoke(t, s, revocation.Entry{Kind: revocation.KindJTI, Value: "a", ExpiresAt: t0.Add(time.Hour), Reason: "r1"})
	e2 := mustRevoke(t, s, revocation.Entry{Kind: revocation.KindSPIFFEID, Value: "spiffe://example.org/x"})
	all, rev := s.Since(0)
	want := []revocation.Entry{e1, e2}
	if d := cmp.Diff(want, all); d != "" {
		t.Errorf("Since(0) mismatch (-want +got):\n%s", d)
	}
	if rev != 2 {
		t.Errorf("Since(0) revision = %d, want 2", rev)
	}
	e3 := mustRevoke(t, s, revocation.Entry{Kind: revocation.KindJTI, Value: "a", ExpiresAt: t0.Add(2 * time.Hour), Reason: "r2"})
	delta, rev := s.Since(rev)
	if d := cmp.Diff([]revocation.Entry{e3}, delta); d != "" {
		t.Errorf("Since(2) mismatch (-want +got):\n%s", d)
	}
	if rev != 3 {
		t.Errorf("Since(2) revision = %d, want 3", rev)
	}

	// A consumer fed with Since holds the same set.
	agent := newSet(t, nil, c)
	agent.Apply(all...)
	agent.Apply(delta...)
	got, _ := agent.Since(0)
	if d := cmp.Diff([]revocation.Entry{e2, e3}, got); d != "" {
		t.Errorf("consumer's set mismatch (-want +got):\n%s", d)
	}
	if _, err := agent.Revoke(t.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: "z"}); err == nil {
		t.Error("Revoke on a set without a store succeeded")
	}
}

func TestRevokedDoesNotAllocate(t *testing.T) {
	s := newSet(t, openStore(t), &clock{now: t0})
	for i := range 1000 {
		mustRevoke(t, s, revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprintf("tok-%d", i)})
	}
	hit, miss := "tok-500", "tok-5000"
	allocs := testing.AllocsPerRun(1000, func() {
		s.Revoked(revocation.KindJTI, hit, t0)
		s.Revoked(revocation.KindJTI, miss, t0)
		s.IsRevoked("client_id", miss, t0)
	})
	if allocs != 0 {
		t.Errorf("Revoked allocates %v times per call, want 0", allocs)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newSet(t, openStore(t), &clock{now: t0})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 20 {
				v := fmt.Sprintf("w%d-%d", w, i)
				if _, err := s.Revoke(t.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: v}); err != nil {
					t.Error(err)
					return
				}
				if !s.Revoked(revocation.KindJTI, v, t0) {
					t.Errorf("%s not revoked right after Revoke", v)
				}
			}
		})
	}
	wg.Wait()
	if s.Len() != 80 || s.Revision() != 80 {
		t.Errorf("Len %d, Revision %d; want 80 and 80", s.Len(), s.Revision())
	}
}

func BenchmarkRevoked(b *testing.B) {
	s := newSet(b, nil, &clock{now: t0})
	var entries []revocation.Entry
	for i := range 100_000 {
		entries = append(entries, revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprintf("tok-%d", i), RevokedAt: t0, Revision: int64(i + 1)})
	}
	s.Apply(entries...)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s.Revoked(revocation.KindJTI, entries[i%len(entries)].Value, t0)
			i++
		}
	})
}

// TestSyncReadsWritesARevokeOvertook has another replica write a
// revocation that this replica's set has not read, then this set revoke
// something of its own (at a higher revision): the next Sync still reads
// the other replica's write.
func TestSyncReadsWritesARevokeOvertook(t *testing.T) {
	c := &clock{now: t0}
	st := openStore(t)
	a, b := newSet(t, st, c), newSet(t, st, c)
	if _, err := b.Revoke(t.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: "from-b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Revoke(t.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: "from-a"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !a.Revoked(revocation.KindJTI, "from-b", t0) {
		t.Error("after Sync, the set lacks the other replica's revocation that its own Revoke overtook")
	}
}

// TestHold revokes every credential issued until the hold is lifted,
// however late; once it is narrowed to the lift (a new revision, as the
// store writes it), only those issued until then.
func TestHold(t *testing.T) {
	c := &clock{now: t0}
	s := newSet(t, nil, c)
	s.Apply(revocation.Entry{Kind: revocation.KindClientID, Value: "ci_x", RevokedAt: revocation.Held(), Revision: 1})
	if !s.Revoked(revocation.KindClientID, "ci_x", t0.Add(100*365*24*time.Hour)) {
		t.Error("a hold does not cover a credential issued a century later")
	}
	lift := t0.Add(time.Hour)
	s.Apply(revocation.Entry{Kind: revocation.KindClientID, Value: "ci_x", RevokedAt: lift, ExpiresAt: lift.Add(2 * time.Hour), Revision: 2})
	if !s.Revoked(revocation.KindClientID, "ci_x", lift) || s.Revoked(revocation.KindClientID, "ci_x", lift.Add(time.Second)) {
		t.Error("after the lift: want credentials issued until the lift revoked, and none after")
	}
	if got := revocation.Held(); got.Year() != 9999 || got.Unix() != 253402300799 {
		t.Errorf("Held() = %v", got)
	}
}
