package ca

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kith-dev/kith/internal/store"
)

// TestWithSQLiteStore runs the CA on the real store, checking that it meets
// the JournalStore contract (versions, ErrNotFound, ErrConflict).
func TestWithSQLiteStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: filepath.Join(t.TempDir(), "kith.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnv(t)
	cfg := e.config()
	cfg.Journal = st
	c1, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := New(ctx, cfg) // a second replica on the same database
	if err != nil {
		t.Fatal(err)
	}
	e.at(DefaultCATTL / 2)
	rotate(t, c1)
	rotate(t, c2) // conflicts, reloads, finds the work done
	if !c1.Bundle().Equal(c2.Bundle()) || seqOf(t, c2.Bundle()) != 2 {
		t.Error("replicas on SQLite disagree after rotation")
	}
	if _, err := verifyX509(t, mint(t, c2, 0), c1.Bundle(), e.clock.Now()); err != nil {
		t.Error(err)
	}
}
