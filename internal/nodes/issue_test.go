package nodes_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/nodes"
	"github.com/kith-dev/kith/internal/store"
)

func TestMintX509SVIDsRespectsParentAndStatus(t *testing.T) {
	e := newEnv(t)
	me, other := e.attest(t), e.attest(t)
	mine := e.entry(t, "mine", me.Agent.SPIFFEID.String(), "", 10*time.Minute)
	anyEntry := e.entry(t, "any", anyAgent, "", 0)
	foreign := e.entry(t, "foreign", other.Agent.SPIFFEID.String(), "", 0)
	quarantined := e.entry(t, "quarantined", me.Agent.SPIFFEID.String(), "quarantined", 0)
	disabled := e.entry(t, "disabled", anyAgent, "disabled", 0)
	unparented := e.entry(t, "unparented", "", "", 0)

	reqs := []nodes.X509Request{
		{EntryID: mine.ID, CSR: newCSR(t)},
		{EntryID: anyEntry.ID, CSR: newCSR(t)},
		{EntryID: foreign.ID, CSR: newCSR(t)},
		{EntryID: unparented.ID, CSR: newCSR(t)},
		{EntryID: quarantined.ID, CSR: newCSR(t)},
		{EntryID: disabled.ID, CSR: newCSR(t)},
		{EntryID: "no-such-entry", CSR: newCSR(t)},
		{EntryID: mine.ID, CSR: []byte("junk")},
	}
	res, err := e.svc.MintX509SVIDs(t.Context(), me, reqs)
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		EntryID, Err string
	}
	var got []outcome
	for _, r := range res {
		o := outcome{EntryID: r.EntryID}
		switch {
		case r.Err == nil:
		case errors.Is(r.Err, nodes.ErrEntryNotServed):
			o.Err = "not served"
		case errors.Is(r.Err, nodes.ErrEntryInactive):
			var ie *nodes.InactiveError
			errors.As(r.Err, &ie)
			o.Err = ie.Status
		case errors.Is(r.Err, ca.ErrInvalidCSR):
			o.Err = "csr"
		default:
			o.Err = r.Err.Error()
		}
		got = append(got, o)
	}
	want := []outcome{
		{mine.ID, ""}, {anyEntry.ID, ""}, {foreign.ID, "not served"}, {unparented.ID, "not served"}, {quarantined.ID, "quarantined"},
		{disabled.ID, "disabled"}, {"no-such-entry", "not served"}, {mine.ID, "csr"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("outcomes (-want +got):\n%s", d)
	}

	bundle := x509bundle.FromX509Authorities(td, e.ca.X509Authorities())
	for i, wantID := range []string{"spiffe://example.org/mine", "spiffe://example.org/any"} {
		id, _, err := x509svid.Verify(res[i].SVID.Certificates, bundle)
		if err != nil || id.String() != wantID || res[i].SPIFFEID != wantID {
			t.Errorf("SVID %d: %v, %v; want %s", i, id, err, wantID)
		}
	}
	if ttl := res[0].SVID.ExpiresAt.Sub(e.clock.Now()); ttl != 10*time.Minute {
		t.Errorf("entry TTL override: SVID lives %v, want 10m", ttl)
	}
	if ttl := res[1].SVID.ExpiresAt.Sub(e.clock.Now()); ttl != ca.DefaultX509SVIDTTL {
		t.Errorf("default TTL: SVID lives %v, want %v", ttl, ca.DefaultX509SVIDTTL)
	}
	recs, err := e.store.ListAgentSVIDs(t.Context(), store.AgentSVIDFilter{AgentID: me.Agent.ID})
	if err != nil || len(recs) != 2 {
		t.Fatalf("recorded SVIDs = %+v, %v; want 2", recs, err)
	}
	if n := len(e.audit.Find("svid.x509.minted", audit.OutcomeSuccess)); n != 2 {
		t.Errorf("%d mintings recorded, want 2", n)
	}
	if n := len(e.audit.Find("svid.x509.minted", audit.OutcomeDenied)); n != 6 {
		t.Errorf("%d refusals recorded, want 6", n)
	}

	if _, err := e.svc.MintX509SVIDs(t.Context(), me, make([]nodes.X509Request, nodes.MaxBatch+1)); !errors.Is(err, nodes.ErrInvalidRequest) {
		t.Errorf("oversized batch: %v, want ErrInvalidRequest", err)
	}
}

// TestUnparentedEntryNotServed: an entry registered without a parent is
// served by no agent (one compromised node must not yield it); only the
// explicit opt-in lets every agent mint it.
func TestUnparentedEntryNotServed(t *testing.T) {
	e := newEnv(t)
	agent := e.attest(t)
	unparented := e.entry(t, "payments", "", "", 0)
	res, err := e.svc.MintX509SVIDs(t.Context(), agent, []nodes.X509Request{{EntryID: unparented.ID, CSR: newCSR(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].SVID != nil || !errors.Is(res[0].Err, nodes.ErrEntryNotServed) {
		t.Errorf("an agent minted the X509-SVID of an entry without a parent: %v, SVID %v", res[0].Err, res[0].SVID != nil)
	}
	if _, _, err := e.svc.MintJWTSVID(t.Context(), agent, unparented.ID, []string{"api"}); !errors.Is(err, nodes.ErrEntryNotServed) {
		t.Errorf("an agent minted the JWT-SVID of an entry without a parent: %v", err)
	}
	opted := e.entry(t, "everywhere", anyAgent, "", 0)
	res, err = e.svc.MintX509SVIDs(t.Context(), agent, []nodes.X509Request{{EntryID: opted.ID, CSR: newCSR(t)}})
	if err != nil || res[0].Err != nil {
		t.Errorf("an entry opted in to any agent was refused: %v, %v", err, res[0].Err)
	}
}

func TestMintJWTSVID(t *testing.T) {
	e := newEnv(t)
	me, other := e.attest(t), e.attest(t)
	mine := e.entry(t, "mine", me.Agent.SPIFFEID.String(), "", 0)
	foreign := e.entry(t, "foreign", other.Agent.SPIFFEID.String(), "", 0)
	quarantined := e.entry(t, "quarantined", anyAgent, "quarantined", 0)
	tests := []struct {
		name     string
		entry    string
		audience []string
		want     error
	}{
		{"own entry", mine.ID, []string{"api"}, nil},
		{"foreign entry", foreign.ID, []string{"api"}, nodes.ErrEntryNotServed},
		{"quarantined entry", quarantined.ID, []string{"api"}, nodes.ErrEntryInactive},
		{"no audience", mine.ID, nil, nodes.ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, exp, err := e.svc.MintJWTSVID(t.Context(), me, tc.entry, tc.audience)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("MintJWTSVID: %v, want %v", err, tc.want)
			}
			if err == nil && (tok == "" || exp.Sub(e.clock.Now()) != ca.DefaultJWTSVIDTTL) {
				t.Errorf("token %q expires at %v", tok, exp)
			}
		})
	}
}

func TestRenew(t *testing.T) {
	e := newEnv(t)
	c := e.attest(t)
	e.clock.Add(10 * time.Minute)
	svid, err := e.svc.Renew(t.Context(), c, newCSR(t))
	if err != nil {
		t.Fatal(err)
	}
	if svid.ID != c.Agent.SPIFFEID {
		t.Errorf("renewed SVID is for %s, want %s", svid.ID, c.Agent.SPIFFEID)
	}
	got, err := e.svc.Get(t.Context(), c.Agent.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SerialNumber != svid.SerialNumber.Text(16) || !got.RenewedAt.Equal(e.clock.Now()) {
		t.Errorf("agent after renewal = %+v", got)
	}
	if _, err := e.svc.Evict(t.Context(), admin, c.Agent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Renew(t.Context(), c, newCSR(t)); !errors.Is(err, nodes.ErrEvicted) {
		t.Errorf("Renew after eviction: %v, want ErrEvicted", err)
	}
}
