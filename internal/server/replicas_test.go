package server

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// postgresSchemaURL returns the URL of a fresh schema in the database
// KITH_TEST_POSTGRES names, dropped at the end of t, or skips t.
func postgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("KITH_TEST_POSTGRES")
	if base == "" {
		t.Skip("KITH_TEST_POSTGRES is not set: skipping the PostgreSQL test")
	}
	var b [8]byte
	rand.Read(b[:])
	name := "kith_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+name); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestReplicasWakeEachOther runs two replicas on one PostgreSQL store
// with their polling all but off, revokes an entry through one, and
// expects the other's revocation set and sync hub to have it at once,
// woken by the change notice alone.
func TestReplicasWakeEachOther(t *testing.T) {
	storeURL := postgresSchemaURL(t)
	a := startServer(t, "example.org", func(c *Config) {
		c.StoreURL, c.ReplicaPollInterval = storeURL, time.Hour
	})
	b := startServer(t, "example.org", func(c *Config) {
		c.StoreURL, c.ReplicaPollInterval, c.KEKFile = storeURL, time.Hour, filepath.Join(a.dir, "kek")
	})
	// Let b's watcher start listening before the change.
	time.Sleep(300 * time.Millisecond)
	before := b.agents.revocations.Len()

	e := a.createEntryAPI(t, "payments", "")
	if code := a.do(t, http.MethodPost, "/v1/entries/"+e.ID+"/revoke", a.token, nil, nil); code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	want, err := a.store.RevocationRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for b.agents.revocations.Len() == before || b.agents.hub.Stats().RevocationRevision < want {
		if time.Now().After(deadline) {
			t.Fatalf("the second replica did not learn of the revocation within 3s (set %d → %d, hub at revision %d of %d)",
				before, b.agents.revocations.Len(), b.agents.hub.Stats().RevocationRevision, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
