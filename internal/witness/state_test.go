package witness

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/kith-dev/kith/internal/store"
)

var _ StateStore = (*store.Store)(nil)

// TestSQLiteState runs a witness over the real SQLite store: the record
// survives closing the store and a new witness, and forks stay refused.
func TestSQLiteState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "witness.db")
	open := func() *store.Store {
		st, err := store.Open(t.Context(), store.Config{URL: path})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	log := newTestLog(t, testOrigin, 300)
	key := newWitnessKey(t, "witness.example/w1")

	st := open()
	w := newTestWitness(t, key, st, log)
	if _, err := w.AddCheckpoint(t.Context(), 0, nil, log.checkpoint(t, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddCheckpoint(t.Context(), 100, log.proof(t, 100, 200), log.checkpoint(t, 200)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open()
	t.Cleanup(func() { st.Close() })
	w = newTestWitness(t, key, st, log)
	_, err := w.AddCheckpoint(t.Context(), 200, nil, log.fork(t, 150, 200).checkpoint(t, 200))
	if !errors.Is(err, ErrFork) {
		t.Errorf("fork after reopening: error = %v, want ErrFork", err)
	}
	var se *StatusError
	_, err = w.AddCheckpoint(t.Context(), 100, log.proof(t, 100, 300), log.checkpoint(t, 300))
	if !errors.As(err, &se) || se.KnownSize != 200 {
		t.Errorf("stale size after reopening: error = %v, want known size 200", err)
	}
	cp := log.checkpoint(t, 300)
	cosig, err := w.AddCheckpoint(t.Context(), 200, log.proof(t, 200, 300), cp)
	if err != nil {
		t.Fatal(err)
	}
	verifyCosignature(t, cp, cosig, key.verifier)
	if got, _ := knownSize(t, st, testOrigin); got != 300 {
		t.Errorf("recorded size %d, want 300", got)
	}
}
