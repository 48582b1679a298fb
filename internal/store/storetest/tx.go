package storetest

import (
	"errors"
	"testing"

	"github.com/kith-dev/kith/internal/store"
)

var errBoom = errors.New("boom")

// writeAll writes one record of every kind through tx.
func writeAll(t testing.TB, tx *store.Tx) error {
	t.Helper()
	ctx := t.Context()
	e := newEntry("tx")
	if err := tx.CreateEntry(ctx, &e); err != nil {
		return err
	}
	e.Description = "updated in the same transaction"
	if err := tx.UpdateEntry(ctx, &e); err != nil {
		return err
	}
	if err := tx.AppendEvent(ctx, &store.Event{Time: t0, Type: "entry.created"}); err != nil {
		return err
	}
	if _, err := tx.PutBlob(ctx, "tx", []byte("data"), 0); err != nil {
		return err
	}
	if err := tx.PutFederation(ctx, newFederation("tx.example")); err != nil {
		return err
	}
	return tx.CreateAdminCredential(ctx, store.AdminCredential{ID: "tx", Hash: []byte{1}})
}

// checkEmpty fails t unless the store holds nothing writeAll wrote.
func checkEmpty(t testing.TB, s *store.Store) {
	t.Helper()
	ctx := t.Context()
	checkNoEntry(t, s, "tx")
	checkRevision(t, s, 0)
	if evs, err := s.ListEvents(ctx, store.EventFilter{After: -1}); err != nil || len(evs) != 0 {
		t.Errorf("ListEvents = %d events, %v; want none", len(evs), err)
	}
	if _, _, err := s.GetBlob(ctx, "tx"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetBlob error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetFederation(ctx, "tx.example"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetFederation error = %v, want ErrNotFound", err)
	}
	if n, err := s.CountAdminCredentials(ctx); err != nil || n != 0 {
		t.Errorf("CountAdminCredentials = %d, %v; want 0", n, err)
	}
	// The event index is not used up.
	if ev := mustAppendEvent(t, s, store.Event{Type: "after"}); ev.Index != 0 {
		t.Errorf("next event Index %d, want 0", ev.Index)
	}
}

func testTxCommit(t *testing.T, s *store.Store) {
	ctx := t.Context()
	err := s.Tx(ctx, func(tx *store.Tx) error {
		if err := writeAll(t, tx); err != nil {
			return err
		}
		// The transaction reads its own writes.
		e, err := tx.GetEntry(ctx, "tx")
		if err != nil {
			return err
		}
		if e.Description != "updated in the same transaction" {
			t.Errorf("GetEntry in the transaction: Description %q", e.Description)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	if e := mustGetEntry(t, s, "tx"); e.Revision != 2 {
		t.Errorf("committed entry has Revision %d, want 2", e.Revision)
	}
	checkRevision(t, s, 2)
	if evs, err := s.ListEvents(ctx, store.EventFilter{After: -1}); err != nil || len(evs) != 1 {
		t.Errorf("ListEvents = %d events, %v; want 1", len(evs), err)
	}
	if data, _, err := s.GetBlob(ctx, "tx"); err != nil || string(data) != "data" {
		t.Errorf("GetBlob = %q, %v; want data", data, err)
	}
	if _, err := s.GetFederation(ctx, "tx.example"); err != nil {
		t.Errorf("GetFederation: %v", err)
	}
	if n, err := s.CountAdminCredentials(ctx); err != nil || n != 1 {
		t.Errorf("CountAdminCredentials = %d, %v; want 1", n, err)
	}
}

func testTxRollback(t *testing.T, s *store.Store) {
	err := s.Tx(t.Context(), func(tx *store.Tx) error {
		if err := writeAll(t, tx); err != nil {
			t.Errorf("writes in the transaction: %v", err)
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("Tx error = %v, want fn's error unchanged", err)
	}
	checkEmpty(t, s)
}

func testTxPanic(t *testing.T, s *store.Store) {
	func() {
		defer func() {
			if r := recover(); r != errBoom {
				t.Errorf("recovered %v, want the panic of fn", r)
			}
		}()
		_ = s.Tx(t.Context(), func(tx *store.Tx) error {
			if err := writeAll(t, tx); err != nil {
				t.Errorf("writes in the transaction: %v", err)
			}
			panic(errBoom)
		})
	}()
	checkEmpty(t, s)
}

// testTxSurvivesFailedWrite shows that a data method that fails inside a
// Tx undoes only its own statements and leaves the Tx usable, on
// PostgreSQL too, where a failed statement would otherwise abort the
// transaction.
func testTxSurvivesFailedWrite(t *testing.T, s *store.Store) {
	ctx := t.Context()
	err := s.Tx(ctx, func(tx *store.Tx) error {
		a := newEntry("a")
		if err := tx.CreateEntry(ctx, &a); err != nil {
			return err
		}
		dup := newEntry("a")
		if err := tx.CreateEntry(ctx, &dup); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateEntry(duplicate) error = %v, want ErrConflict", err)
		}
		stale := a
		stale.Revision = 0
		if err := tx.UpdateEntry(ctx, &stale); !errors.Is(err, store.ErrConflict) {
			t.Errorf("UpdateEntry(stale) error = %v, want ErrConflict", err)
		}
		if err := tx.DeleteEntry(ctx, "absent"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteEntry(absent) error = %v, want ErrNotFound", err)
		}
		if err := tx.CreateAdminCredential(ctx, store.AdminCredential{ID: "c"}); err != nil {
			return err
		}
		if err := tx.CreateAdminCredential(ctx, store.AdminCredential{ID: "c"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateAdminCredential(duplicate) error = %v, want ErrConflict", err)
		}
		if _, err := tx.PutBlob(ctx, "b", nil, 5); !errors.Is(err, store.ErrConflict) {
			t.Errorf("PutBlob(stale) error = %v, want ErrConflict", err)
		}
		b := newEntry("b")
		if err := tx.CreateEntry(ctx, &b); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, &store.Event{Type: "x"})
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	// Only the two successful entry writes used a revision.
	checkRevision(t, s, 2)
	if e := mustGetEntry(t, s, "b"); e.Revision != 2 {
		t.Errorf("entry b has Revision %d, want 2", e.Revision)
	}
	if ev := mustAppendEvent(t, s, store.Event{Type: "y"}); ev.Index != 1 {
		t.Errorf("next event Index %d, want 1", ev.Index)
	}
}

func testTxIsolation(t *testing.T, s *store.Store) {
	ctx := t.Context()
	err := s.Tx(ctx, func(tx *store.Tx) error {
		e := newEntry("a")
		if err := tx.CreateEntry(ctx, &e); err != nil {
			return err
		}
		// Reads outside the transaction do not see it before it commits.
		checkNoEntry(t, s, "a")
		checkRevision(t, s, 0)
		return nil
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	mustGetEntry(t, s, "a")
	checkRevision(t, s, 1)
}
