// Package storetest is the contract test suite of package store: every
// back end (SQLite, PostgreSQL) must pass [Run]. It is only for tests and
// must not be imported by production code.
package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/store"
)

// Run runs the contract suite against the back end that open returns.
// open is called once per subtest and must return an empty, migrated store
// that is closed when the test ends.
func Run(t *testing.T, open func(t testing.TB) *store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *store.Store)
	}{
		{"Backend", testBackend},
		{"EntryRoundTrip", testEntryRoundTrip},
		{"CreateEntryConflict", testCreateEntryConflict},
		{"GetEntryNotFound", testGetEntryNotFound},
		{"UpdateEntry", testUpdateEntry},
		{"UpdateEntryErrors", testUpdateEntryErrors},
		{"DeleteEntry", testDeleteEntry},
		{"ListEntries", testListEntries},
		{"ListEntriesLimits", testListEntriesLimits},
		{"Revision", testRevision},
		{"ConcurrentCreateEntry", testConcurrentCreateEntry},
		{"Blobs", testBlobs},
		{"BlobNotFound", testBlobNotFound},
		{"Federations", testFederations},
		{"FederationNotFound", testFederationNotFound},
		{"AdminCredentials", testAdminCredentials},
		{"AppendEvent", testAppendEvent},
		{"ListEvents", testListEvents},
		{"ListEventsLimits", testListEventsLimits},
		{"ListEventsAcrossSegments", testListEventsAcrossSegments},
		{"ConcurrentAppendEvent", testConcurrentAppendEvent},
		{"LedgerAppend", testLedgerAppend},
		{"LedgerAppendErrors", testLedgerAppendErrors},
		{"LedgerAdopt", testLedgerAdopt},
		{"LedgerHashes", testLedgerHashes},
		{"Checkpoints", testCheckpoints},
		{"ConcurrentLedgerAppend", testConcurrentLedgerAppend},
		{"LedgerAppendInTx", testLedgerAppendInTx},
		{"ExtendLedger", testExtendLedger},
		{"ConcurrentExtendLedger", testConcurrentExtendLedger},
		{"OAuthClientRoundTrip", testOAuthClientRoundTrip},
		{"OAuthClientErrors", testOAuthClientErrors},
		{"UpdateOAuthClient", testUpdateOAuthClient},
		{"DeleteOAuthClient", testDeleteOAuthClient},
		{"ListOAuthClients", testListOAuthClients},
		{"OAuthClientInTx", testOAuthClientInTx},
		{"FindOAuthClientSecret", testFindOAuthClientSecret},
		{"Revocations", testRevocations},
		{"DeleteExpiredRevocations", testDeleteExpiredRevocations},
		{"LiftRevocation", testLiftRevocation},
		{"LockEntry", testLockEntry},
		{"JoinTokens", testJoinTokens},
		{"ConcurrentRegisterAgent", testConcurrentRegisterAgent},
		{"Agents", testAgents},
		{"AgentSVIDs", testAgentSVIDs},
		{"EntryChanges", testEntryChanges},
		{"EntryTombstones", testEntryTombstones},
		{"RevocationRevision", testRevocationRevision},
		{"PolicySets", testPolicySets},
		{"ConcurrentPutPolicySet", testConcurrentPutPolicySet},
		{"TimeRoundTrip", testTimeRoundTrip},
		{"TxCommit", testTxCommit},
		{"TxRollback", testTxRollback},
		{"TxPanic", testTxPanic},
		{"TxSurvivesFailedWrite", testTxSurvivesFailedWrite},
		{"TxIsolation", testTxIsolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

func testBackend(t *testing.T, s *store.Store) {
	if b := s.Backend(); b != "sqlite" && b != "postgres" {
		t.Errorf("Backend() = %q, want sqlite or postgres", b)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// t0 has nanoseconds and a zone, to show that times are stored as UTC
// microseconds.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+1", 3600))

// norm is what the store returns for a stored t.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// wantErr reports whether err matches want: nil for nil, else errors.Is.
func wantErr(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}

// newEntry returns an entry with every field set, unique to id.
func newEntry(id string) store.Entry {
	return store.Entry{
		ID:               id,
		SPIFFEID:         "spiffe://example.org/" + id,
		ParentID:         "spiffe://example.org/agent/node-1",
		Selectors:        []string{"k8s:ns:payments", "k8s:sa:" + id},
		Owner:            "team-payments",
		BusinessFunction: "billing",
		Description:      "entry " + id,
		MaxScopes:        []string{"invoices:read", "invoices:write"},
		X509SVIDTTL:      time.Hour,
		JWTSVIDTTL:       5 * time.Minute,
		Labels:           map[string]string{"env": "prod", "tier": "1"},
		Status:           "active",
		CreatedAt:        t0,
		UpdatedAt:        t0.Add(time.Second),
	}
}

// normEntry returns e as the store gives it back.
func normEntry(e store.Entry) store.Entry {
	e.CreatedAt = norm(e.CreatedAt)
	e.UpdatedAt = norm(e.UpdatedAt)
	return e
}

func mustCreateEntry(t testing.TB, s *store.Store, e store.Entry) store.Entry {
	t.Helper()
	if err := s.CreateEntry(t.Context(), &e); err != nil {
		t.Fatalf("CreateEntry(%q): %v", e.ID, err)
	}
	return e
}

func mustGetEntry(t testing.TB, s *store.Store, id string) store.Entry {
	t.Helper()
	e, err := s.GetEntry(t.Context(), id)
	if err != nil {
		t.Fatalf("GetEntry(%q): %v", id, err)
	}
	return e
}

func mustRevision(t testing.TB, s *store.Store) int64 {
	t.Helper()
	rev, err := s.Revision(t.Context())
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return rev
}

// checkRevision fails t unless the store-wide revision is want.
func checkRevision(t testing.TB, s *store.Store, want int64) {
	t.Helper()
	if got := mustRevision(t, s); got != want {
		t.Errorf("Revision() = %d, want %d", got, want)
	}
}

func mustAppendEvent(t testing.TB, s *store.Store, ev store.Event) store.Event {
	t.Helper()
	if err := s.AppendEvent(t.Context(), &ev); err != nil {
		t.Fatalf("AppendEvent(%s): %v", ev.Type, err)
	}
	return ev
}

// checkNoEntry fails t unless GetEntry(id) reports ErrNotFound.
func checkNoEntry(t testing.TB, s *store.Store, id string) {
	t.Helper()
	if _, err := s.GetEntry(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetEntry(%q) error = %v, want ErrNotFound", id, err)
	}
}

// diff is cmp.Diff with a header naming what is compared.
func diff(what string, want, got any, opts ...cmp.Option) string {
	if d := cmp.Diff(want, got, opts...); d != "" {
		return fmt.Sprintf("%s mismatch (-want +got):\n%s", what, d)
	}
	return ""
}
