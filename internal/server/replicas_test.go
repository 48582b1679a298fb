package server

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/store/storetest"
)

// TestReplicasWakeEachOther runs two replicas on one PostgreSQL store
// with their polling all but off, revokes an entry through one, and
// expects the other's revocation set and sync hub to have it at once,
// woken by the change notice alone.
func TestReplicasWakeEachOther(t *testing.T) {
	storeURL := storetest.PostgresURL(t)
	a := startServer(t, "example.org", func(c *Config) {
		c.StoreURL, c.ReplicaPollInterval = storeURL, time.Hour
	})
	b := startServer(t, "example.org", func(c *Config) {
		c.StoreURL, c.ReplicaPollInterval, c.KEKFile = storeURL, time.Hour, filepath.Join(a.dir, "kek")
	})
	// b's watcher listens before the change, so that only the notice
	// can bring it.
	select {
	case <-b.agents.listening:
	case <-time.After(10 * time.Second):
		t.Fatal("the second replica does not listen for change notices")
	}
	before := b.agents.revocations.Len()

	e := a.createEntryAPI(t, "payments", "any")
	if code := a.do(t, http.MethodPost, "/v1/entries/"+e.ID+"/revoke", a.token, nil, nil); code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	want, err := a.store.RevocationRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The notice syncs b's revocation set, then wakes its hub, whose round
	// signals StatsChanged.
	if !await.Signal(3*time.Second, b.agents.hub.StatsChanged, func() bool {
		return b.agents.revocations.Len() != before && b.agents.hub.Stats().RevocationRevision >= want
	}) {
		t.Fatalf("the second replica did not learn of the revocation within 3s (set %d → %d, hub at revision %d of %d)",
			before, b.agents.revocations.Len(), b.agents.hub.Stats().RevocationRevision, want)
	}
}
