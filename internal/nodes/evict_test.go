package nodes_test

import (
	"crypto/x509"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/nodes"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
)

func TestEvict(t *testing.T) {
	e := newEnv(t)
	victim, bystander := e.attest(t), e.attest(t)
	short := e.entry(t, "short", anyAgent, "", time.Minute)
	long := e.entry(t, "long", anyAgent, "", 0)
	mint := func(c *nodes.Caller, entryID string) string {
		t.Helper()
		res, err := e.svc.MintX509SVIDs(t.Context(), c, []nodes.X509Request{{EntryID: entryID, CSR: newCSR(t)}})
		if err != nil || res[0].Err != nil {
			t.Fatalf("mint: %v %v", err, res[0].Err)
		}
		return res[0].SVID.SerialNumber.Text(16)
	}
	mint(victim, short.ID) // expires before the eviction
	live1, live2 := mint(victim, long.ID), mint(victim, long.ID)
	mint(bystander, long.ID)
	e.clock.Add(2 * time.Minute)

	before := e.changed()
	ev, err := e.svc.Evict(t.Context(), admin, victim.Agent.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.RevokedSVIDs != 2 || !ev.Agent.Evicted() {
		t.Errorf("eviction = %+v, want 2 SVIDs revoked", ev)
	}
	wantSerials := []string{live1, live2}
	slices.Sort(wantSerials)
	if d := cmp.Diff(wantSerials, e.revokedValues(revocation.KindX509Serial)); d != "" {
		t.Errorf("revoked serials (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{victim.Agent.SPIFFEID.String()}, e.revokedValues(revocation.KindSPIFFEID)); d != "" {
		t.Errorf("revoked SPIFFE IDs (-want +got):\n%s", d)
	}
	if e.changed() == before {
		t.Error("Evict did not signal the change")
	}
	if _, err := e.svc.Authenticate(t.Context(), []*x509.Certificate{victim.Leaf}, ""); !errors.Is(err, nodes.ErrEvicted) {
		t.Errorf("Authenticate after eviction: %v, want ErrEvicted", err)
	}
	if _, err := e.svc.Authenticate(t.Context(), []*x509.Certificate{bystander.Leaf}, ""); err != nil {
		t.Errorf("the other agent is refused: %v", err)
	}
	if evs := e.audit.Find("agent.evicted", audit.OutcomeSuccess); len(evs) != 1 || evs[0].Details["revoked_svids"] != "2" {
		t.Errorf("ledger: %+v", evs)
	}

	// Evicting again repeats the revocations and succeeds.
	again, err := e.svc.Evict(t.Context(), admin, victim.Agent.ID)
	if err != nil || !again.Agent.EvictedAt.Equal(ev.Agent.EvictedAt) {
		t.Errorf("second Evict = %+v, %v", again, err)
	}
	if _, err := e.svc.Evict(t.Context(), admin, "nope"); !errors.Is(err, nodes.ErrAgentNotFound) {
		t.Errorf("Evict(unknown): %v, want ErrAgentNotFound", err)
	}
}

func TestEntryActions(t *testing.T) {
	e := newEnv(t)
	c := e.attest(t)
	en := e.entry(t, "web", anyAgent, "", 0)
	canMint := func() error {
		_, _, err := e.svc.MintJWTSVID(t.Context(), c, en.ID, []string{"x"})
		return err
	}

	rev, err := e.svc.RevokeEntry(t.Context(), admin, en.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Entry.Status != registry.StatusActive || !rev.RevokedAt.Equal(e.clock.Now()) || rev.ExpiresAt.Sub(rev.RevokedAt) != 24*time.Hour {
		t.Errorf("RevokeEntry = %+v", rev)
	}
	if !e.revs.Revoked(revocation.KindSPIFFEID, "spiffe://example.org/web", e.clock.Now()) {
		t.Error("the entry's SPIFFE ID is not revoked")
	}
	// A credential minted at once would be born revoked (an X509-SVID's
	// NotBefore is backdated by 10s, a JWT-SVID's iat is this second), so
	// issuance waits until it is not.
	mintX509 := func() error {
		res, err := e.svc.MintX509SVIDs(t.Context(), c, []nodes.X509Request{{EntryID: en.ID, CSR: newCSR(t)}})
		if err != nil {
			return err
		}
		return res[0].Err
	}
	if err := canMint(); !errors.Is(err, nodes.ErrRevokedRecently) {
		t.Errorf("JWT-SVID in the second of the revocation: %v, want ErrRevokedRecently", err)
	}
	e.clock.Add(time.Second)
	if err := canMint(); err != nil {
		t.Errorf("a revoked (still active) entry cannot be issued: %v", err)
	}
	// Within the CA's backdating window an X509-SVID is still issued, its
	// validity starting after the revocation's cut-off.
	res, err := e.svc.MintX509SVIDs(t.Context(), c, []nodes.X509Request{{EntryID: en.ID, CSR: newCSR(t)}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("X509-SVID within the backdate: %v, %v", err, res[0].Err)
	}
	if nb := res[0].SVID.Certificates[0].NotBefore; nb.Unix() <= e.clock.Now().Add(-time.Second).Unix() {
		t.Errorf("X509-SVID NotBefore %v is not after the revocation's cut-off", nb)
	}
	e.clock.Add(10 * time.Second)
	if err := mintX509(); err != nil {
		t.Errorf("X509-SVID after the backdate: %v", err)
	}

	e.clock.Add(time.Minute)
	q, err := e.svc.QuarantineEntry(t.Context(), admin, en.ID)
	if err != nil {
		t.Fatal(err)
	}
	if q.Entry.Status != registry.StatusQuarantined || !q.RevokedAt.Equal(e.clock.Now()) {
		t.Errorf("QuarantineEntry = %+v", q)
	}
	if err := canMint(); !errors.Is(err, nodes.ErrEntryInactive) {
		t.Errorf("quarantined entry: %v, want ErrEntryInactive", err)
	}
	rel, err := e.svc.ReleaseEntry(t.Context(), admin, en.ID)
	if err != nil || rel.Status != registry.StatusActive {
		t.Fatalf("ReleaseEntry = %+v, %v", rel, err)
	}
	e.clock.Add(time.Second)
	if err := canMint(); err != nil {
		t.Errorf("released entry: %v", err)
	}
	for _, typ := range []string{"entry.revoked", "entry.quarantined", "entry.released"} {
		if n := len(e.audit.Find(typ, audit.OutcomeSuccess)); n != 1 {
			t.Errorf("%d %s events, want 1", n, typ)
		}
	}
	for _, call := range []func() error{
		func() error { _, err := e.svc.RevokeEntry(t.Context(), admin, "nope"); return err },
		func() error { _, err := e.svc.QuarantineEntry(t.Context(), admin, "nope"); return err },
		func() error { _, err := e.svc.ReleaseEntry(t.Context(), admin, "nope"); return err },
	} {
		if err := call(); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("action on an unknown entry: %v, want registry.ErrNotFound", err)
		}
	}
}

// TestEvictNeedsItsAuditEvent: when the eviction's event cannot be
// written, the agent is not marked evicted (its identity is revoked
// already, the safe side), and the call can be repeated.
func TestEvictNeedsItsAuditEvent(t *testing.T) {
	e := newEnv(t)
	victim := e.attest(t)
	e.audit.FailTx(errors.New("ledger down"))
	if _, err := e.svc.Evict(t.Context(), admin, victim.Agent.ID); err == nil {
		t.Fatal("Evict succeeded without its audit event")
	}
	rec, err := e.store.GetAgent(t.Context(), victim.Agent.ID)
	if err != nil || !rec.EvictedAt.IsZero() {
		t.Errorf("agent after a failed eviction: evicted at %v, %v; want not marked", rec.EvictedAt, err)
	}
	if d := cmp.Diff([]string{victim.Agent.SPIFFEID.String()}, e.revokedValues(revocation.KindSPIFFEID)); d != "" {
		t.Errorf("revoked SPIFFE IDs (-want +got):\n%s", d)
	}
	e.audit.FailTx(nil)
	ev, err := e.svc.Evict(t.Context(), admin, victim.Agent.ID)
	if err != nil || !ev.Agent.Evicted() {
		t.Fatalf("repeated Evict = %+v, %v", ev, err)
	}
	if evs := e.audit.Find("agent.evicted", audit.OutcomeSuccess); len(evs) != 1 {
		t.Errorf("%d agent.evicted events, want 1", len(evs))
	}
}
