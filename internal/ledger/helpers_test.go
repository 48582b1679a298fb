package ledger_test

import (
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/store/storetest"
)

// testOrigin is the origin of the test logs.
const testOrigin = "example.org/kith/ledger"

// backends lists the store back ends; url returns the URL of a fresh,
// empty database of that kind, skipping t if there is none.
var backends = []struct {
	name string
	url  func(t testing.TB) string
}{
	{"sqlite", sqliteURL},
	{"postgres", postgresURL},
}

func sqliteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "kith.db")
}

// postgresURL returns the URL of a fresh PostgreSQL schema, dropped when
// t ends, or skips t when storetest.PostgresEnv is unset.
func postgresURL(t testing.TB) string { return storetest.PostgresURL(t) }

// openStore opens the store at url and closes it when t ends.
func openStore(t testing.TB, url string) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), store.Config{URL: url})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newSigner returns a fresh log key for testOrigin.
func newSigner(t testing.TB) *ledger.Signer {
	t.Helper()
	skey, _, err := ledger.GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ledger.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeClock is a clock that only moves when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

// newLedger returns a ledger on s; edit, if set, adjusts its Config.
func newLedger(t testing.TB, s ledger.Store, signer *ledger.Signer, edit func(*ledger.Config)) *ledger.Ledger {
	t.Helper()
	cfg := ledger.Config{Store: s, Origin: testOrigin, Signer: signer, Clock: newFakeClock().Now}
	if edit != nil {
		edit(&cfg)
	}
	l, err := ledger.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("ledger.New: %v", err)
	}
	return l
}

// testLedger returns a ledger on a fresh SQLite store, with its store and
// signer.
func testLedger(t testing.TB) (*ledger.Ledger, *store.Store, *ledger.Signer) {
	t.Helper()
	s := openStore(t, sqliteURL(t))
	signer := newSigner(t)
	return newLedger(t, s, signer, nil), s, signer
}

// testEvent returns a valid event numbered n.
func testEvent(n int) audit.Event {
	return audit.Event{
		Type:    "entry.created",
		Actor:   audit.Actor{Kind: "admin", ID: "admin-alice", CredentialID: "cred-1", CredentialType: "admin_token"},
		Target:  "entry-" + strconv.Itoa(n),
		Action:  "create",
		Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"n": strconv.Itoa(n)},
	}
}

// mustRecord records ev and returns its index.
func mustRecord(t testing.TB, l *ledger.Ledger, ev audit.Event) int64 {
	t.Helper()
	i, err := l.Record(t.Context(), ev)
	if err != nil {
		t.Fatalf("Record(%s): %v", ev.Type, err)
	}
	return i
}

// mustPublish publishes a checkpoint and returns it.
func mustPublish(t testing.TB, l *ledger.Ledger) *ledger.Checkpoint {
	t.Helper()
	cp, err := l.PublishForTest(t.Context())
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if cp == nil {
		t.Fatal("publish: no checkpoint")
	}
	return cp
}

// allEntries returns every entry of l's log up to size.
func allEntries(t testing.TB, l *ledger.Ledger, size uint64) []ledger.Entry {
	t.Helper()
	var out []ledger.Entry
	for uint64(len(out)) < size {
		page, err := l.Entries(t.Context(), uint64(len(out)), size)
		if err != nil {
			t.Fatalf("Entries(%d, %d): %v", len(out), size, err)
		}
		out = append(out, page...)
	}
	return out
}

// verifyConsistency checks a consistency proof between two checkpoints.
func verifyConsistency(a, b *ledger.Checkpoint, p [][]byte) error {
	return proof.VerifyConsistency(rfc6962.DefaultHasher, a.Size, b.Size, p, a.Root, b.Root)
}
