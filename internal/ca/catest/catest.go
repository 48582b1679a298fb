// Package catest builds CAs for the tests of packages that need one to
// mint SVIDs: an in-memory key journal and a CA on it with a random
// key-encryption key. It is only for tests and must not be imported by
// production code.
package catest

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/store"
)

// Journal is an in-memory [ca.JournalStore] with the store's
// compare-and-swap contract. The zero value is empty and ready.
type Journal struct {
	mu      sync.Mutex
	data    map[string][]byte
	version map[string]int64
}

// GetBlob returns a copy of the blob called name and its version, or
// [store.ErrNotFound].
func (j *Journal) GetBlob(_ context.Context, name string) ([]byte, int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	v, ok := j.version[name]
	if !ok {
		return nil, 0, fmt.Errorf("get %q: %w", name, store.ErrNotFound)
	}
	return append([]byte(nil), j.data[name]...), v, nil
}

// PutBlob stores data as the blob called name if its version is expect
// (0 for a new blob) and returns the new version, or fails with
// [store.ErrConflict].
func (j *Journal) PutBlob(_ context.Context, name string, data []byte, expect int64) (int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.data == nil {
		j.data, j.version = map[string][]byte{}, map[string]int64{}
	}
	if j.version[name] != expect {
		return 0, fmt.Errorf("put %q: %w", name, store.ErrConflict)
	}
	j.version[name] = expect + 1
	j.data[name] = append([]byte(nil), data...)
	return expect + 1, nil
}

// NopAuditor accepts every event and keeps none.
type NopAuditor struct{}

// Record accepts ev.
func (NopAuditor) Record(context.Context, audit.Event) (int64, error) { return 0, nil }

// New returns a CA for td on a fresh [Journal], with a random
// key-encryption key and a [NopAuditor]; opts may change the rest of its
// configuration (TTLs, clock) before it is built. It fails tb if the CA
// cannot be built.
func New(tb testing.TB, td spiffeid.TrustDomain, opts ...func(*ca.Config)) *ca.CA {
	tb.Helper()
	key := make([]byte, ca.KEKSize)
	rand.Read(key)
	kek, err := ca.NewKEK(key)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := ca.Config{TrustDomain: td, Journal: &Journal{}, KEK: kek, Auditor: NopAuditor{}}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := ca.New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("ca.New: %v", err)
	}
	return c
}
