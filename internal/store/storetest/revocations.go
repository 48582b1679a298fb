package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

func testRevocations(t *testing.T, s *store.Store) {
	ctx := t.Context()
	// Steps run in order; each puts one revocation and says what the
	// store holds for it afterwards.
	steps := []struct {
		name string
		put  store.Revocation
		want store.Revocation
	}{
		{
			name: "new",
			put:  store.Revocation{Kind: "jti", Value: "t1", RevokedAt: t0, ExpiresAt: t0.Add(5 * time.Minute), Reason: "leaked"},
			want: store.Revocation{Kind: "jti", Value: "t1", RevokedAt: norm(t0), ExpiresAt: norm(t0.Add(5 * time.Minute)), Reason: "leaked", Revision: 1},
		},
		{
			name: "another kind, same value",
			put:  store.Revocation{Kind: "client_id", Value: "t1", RevokedAt: t0},
			want: store.Revocation{Kind: "client_id", Value: "t1", RevokedAt: norm(t0), Revision: 2},
		},
		{
			name: "later revocation widens",
			put:  store.Revocation{Kind: "jti", Value: "t1", RevokedAt: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour), Reason: "again"},
			want: store.Revocation{Kind: "jti", Value: "t1", RevokedAt: norm(t0.Add(time.Minute)), ExpiresAt: norm(t0.Add(time.Hour)), Reason: "again", Revision: 3},
		},
		{
			name: "earlier times never narrow",
			put:  store.Revocation{Kind: "jti", Value: "t1", RevokedAt: t0, ExpiresAt: t0.Add(time.Minute), Reason: "third"},
			want: store.Revocation{Kind: "jti", Value: "t1", RevokedAt: norm(t0.Add(time.Minute)), ExpiresAt: norm(t0.Add(time.Hour)), Reason: "third", Revision: 4},
		},
		{
			name: "never expiring wins",
			put:  store.Revocation{Kind: "jti", Value: "t1", RevokedAt: t0},
			want: store.Revocation{Kind: "jti", Value: "t1", RevokedAt: norm(t0.Add(time.Minute)), Reason: "", Revision: 5},
		},
		{
			name: "and stays",
			put:  store.Revocation{Kind: "jti", Value: "t1", RevokedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			want: store.Revocation{Kind: "jti", Value: "t1", RevokedAt: norm(t0.Add(time.Minute)), Revision: 6},
		},
	}
	for _, st := range steps {
		r := st.put
		if err := s.PutRevocation(ctx, &r); err != nil {
			t.Fatalf("%s: PutRevocation: %v", st.name, err)
		}
		if d := diff(st.name+": PutRevocation result", st.want, r); d != "" {
			t.Error(d)
		}
	}
	all, err := s.ListRevocations(ctx, store.RevocationFilter{})
	if err != nil {
		t.Fatalf("ListRevocations: %v", err)
	}
	want := []store.Revocation{steps[1].want, steps[5].want}
	if d := diff("ListRevocations", want, all); d != "" {
		t.Error(d)
	}
	since, err := s.ListRevocations(ctx, store.RevocationFilter{After: 2})
	if err != nil {
		t.Fatalf("ListRevocations: %v", err)
	}
	if d := diff("ListRevocations after 2", []store.Revocation{steps[5].want}, since); d != "" {
		t.Error(d)
	}
	page, err := s.ListRevocations(ctx, store.RevocationFilter{Limit: 1})
	if err != nil || len(page) != 1 || page[0].Revision != 2 {
		t.Errorf("ListRevocations(Limit 1) = %+v, %v; want the revocation at revision 2", page, err)
	}
}

func testDeleteExpiredRevocations(t *testing.T, s *store.Store) {
	ctx := t.Context()
	for i, exp := range []time.Time{t0, t0.Add(time.Minute), t0.Add(time.Hour), {}} {
		r := store.Revocation{Kind: "jti", Value: string(rune('a' + i)), RevokedAt: t0, ExpiresAt: exp}
		if err := s.PutRevocation(ctx, &r); err != nil {
			t.Fatalf("PutRevocation: %v", err)
		}
	}
	n, err := s.DeleteExpiredRevocations(ctx, t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Errorf("DeleteExpiredRevocations = %d, %v; want 1", n, err)
	}
	n, err = s.DeleteExpiredRevocations(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Errorf("second DeleteExpiredRevocations = %d, %v; want 2", n, err)
	}
	left, err := s.ListRevocations(ctx, store.RevocationFilter{})
	if err != nil {
		t.Fatalf("ListRevocations: %v", err)
	}
	if len(left) != 1 || left[0].Value != "d" {
		t.Errorf("left after deleting expired: %+v, want only the one that never expires", left)
	}
	// Revisions keep growing after deletes.
	r := store.Revocation{Kind: "jti", Value: "e", RevokedAt: t0}
	if err := s.PutRevocation(ctx, &r); err != nil || r.Revision != 5 {
		t.Errorf("PutRevocation after deletes: Revision %d, %v; want 5", r.Revision, err)
	}
}

func testLiftRevocation(t *testing.T, s *store.Store) {
	ctx := t.Context()
	far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, r := range []store.Revocation{
		{Kind: "client_id", Value: "held", RevokedAt: far, Reason: "entry disabled"},
		{Kind: "client_id", Value: "revoked", RevokedAt: t0, ExpiresAt: t0.Add(time.Hour)},
	} {
		if err := s.PutRevocation(ctx, &r); err != nil {
			t.Fatalf("PutRevocation: %v", err)
		}
	}
	at := t0.Add(time.Minute)
	for _, tc := range []struct {
		value string
		want  bool
	}{{"held", true}, {"revoked", false}, {"none", false}, {"held", false}} {
		got, err := s.LiftRevocation(ctx, "client_id", tc.value, at, at.Add(time.Hour))
		if err != nil || got != tc.want {
			t.Errorf("LiftRevocation(%s) = %v, %v; want %v", tc.value, got, err, tc.want)
		}
	}
	if rev, err := s.RevocationRevision(ctx); err != nil || rev != 3 {
		t.Errorf("RevocationRevision = %d, %v; want 3: only the lift used one", rev, err)
	}
	all, err := s.ListRevocations(ctx, store.RevocationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Revocation{
		{Kind: "client_id", Value: "revoked", RevokedAt: norm(t0), ExpiresAt: norm(t0.Add(time.Hour)), Revision: 2},
		{Kind: "client_id", Value: "held", RevokedAt: norm(at), ExpiresAt: norm(at.Add(time.Hour)), Reason: "entry disabled", Revision: 3},
	}
	if d := diff("after the lift", want, all); d != "" {
		t.Error(d)
	}
	// In a transaction, with the rest of a change.
	err = s.Tx(ctx, func(tx *store.Tx) error {
		r := store.Revocation{Kind: "client_id", Value: "held", RevokedAt: far, Reason: "again"}
		if err := tx.PutRevocation(ctx, &r); err != nil {
			return err
		}
		_, err := tx.LiftRevocation(ctx, "client_id", "held", at.Add(time.Minute), time.Time{})
		return err
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	if all, _ := s.ListRevocations(ctx, store.RevocationFilter{After: 3}); len(all) != 1 || !all[0].RevokedAt.Equal(norm(at.Add(time.Minute))) ||
		!all[0].ExpiresAt.IsZero() || all[0].Revision != 5 {
		t.Errorf("after hold and lift in one transaction: %+v", all)
	}
}

func testLockEntry(t *testing.T, s *store.Store) {
	ctx := t.Context()
	e := newEntry("a")
	if err := s.CreateEntry(ctx, &e); err != nil {
		t.Fatal(err)
	}
	err := s.Tx(ctx, func(tx *store.Tx) error {
		got, err := tx.LockEntry(ctx, "a")
		if err != nil || got.ID != "a" {
			t.Errorf("LockEntry = %+v, %v", got, err)
		}
		if _, err := tx.LockEntry(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LockEntry(none) = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.LockEntry(ctx, "a"); err != nil || got.ID != "a" {
		t.Errorf("LockEntry outside a transaction = %+v, %v", got, err)
	}
}
