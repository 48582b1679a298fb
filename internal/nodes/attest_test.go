package nodes_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/nodes"
)

func TestAttest(t *testing.T) {
	e := newEnv(t)
	tok, err := e.svc.CreateJoinToken(t.Context(), admin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok.String(), tok.Reveal()[len(nodes.JoinTokenPrefix)+13:]) {
		t.Errorf("String() %q shows the secret", tok.String())
	}
	att, err := e.svc.Attest(t.Context(), nodes.AttestRequest{JoinToken: tok.Reveal(), CSR: newCSR(t), RemoteAddr: "10.0.0.1:5"})
	if err != nil {
		t.Fatal(err)
	}
	bundle := x509bundle.FromX509Authorities(td, e.ca.X509Authorities())
	id, _, err := x509svid.Verify(att.SVID.Certificates, bundle)
	if err != nil {
		t.Fatalf("go-spiffe refuses the agent SVID: %v", err)
	}
	if want := "spiffe://example.org/kith/agent/" + att.Agent.ID; id.String() != want || att.Agent.SPIFFEID != id {
		t.Errorf("SVID ID = %s, agent ID %s; want %s", id, att.Agent.SPIFFEID, want)
	}
	got, err := e.svc.Get(t.Context(), att.Agent.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(att.Agent, got, cmp.Comparer(func(a, b spiffeid.ID) bool { return a == b })); d != "" {
		t.Errorf("stored agent differs (-attested +stored):\n%s", d)
	}
	if got.JoinTokenID != tok.ID || got.SerialNumber != att.SVID.SerialNumber.Text(16) {
		t.Errorf("agent = %+v, want token %s and serial %x", got, tok.ID, att.SVID.SerialNumber)
	}
	evs := e.audit.Find("agent.attested", audit.OutcomeSuccess)
	if len(evs) != 1 || evs[0].Target != att.Agent.ID || evs[0].Details["join_token"] != tok.ID || evs[0].Actor.RemoteAddr != "10.0.0.1:5" {
		t.Errorf("ledger events = %+v", evs)
	}
	if len(e.audit.Find("agent.join_token.created", audit.OutcomeSuccess)) != 1 {
		t.Error("token creation not recorded")
	}
}

func TestAttestRefuses(t *testing.T) {
	e := newEnv(t)
	used := e.token(t, time.Hour)
	if _, err := e.svc.Attest(t.Context(), nodes.AttestRequest{JoinToken: used, CSR: newCSR(t)}); err != nil {
		t.Fatal(err)
	}
	expired := e.token(t, time.Minute)
	fresh := e.token(t, time.Hour)
	wrongSecret := fresh[:len(fresh)-3] + "AAA"
	if wrongSecret == fresh {
		wrongSecret = fresh[:len(fresh)-3] + "BBB"
	}
	e.clock.Add(2 * time.Minute)

	tests := []struct {
		name   string
		token  string
		csr    []byte
		want   error
		reason string // recorded reason; empty: nothing recorded
	}{
		{"reused token", used, newCSR(t), nodes.ErrJoinTokenUsed, "join token already used"},
		{"expired token", expired, newCSR(t), nodes.ErrJoinTokenExpired, "join token expired"},
		{"wrong secret", wrongSecret, newCSR(t), nodes.ErrInvalidJoinToken, "invalid join token"},
		{"unknown token", "kith_jt_000000000000_" + strings.Repeat("A", 42) + "A", newCSR(t), nodes.ErrInvalidJoinToken, "invalid join token"},
		{"malformed token", "hello", newCSR(t), nodes.ErrInvalidJoinToken, "invalid join token"},
		{"bad csr", fresh, []byte("not a csr"), ca.ErrInvalidCSR, ca.ErrInvalidCSR.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.audit.Find("agent.attested", audit.OutcomeDenied))
			_, err := e.svc.Attest(t.Context(), nodes.AttestRequest{JoinToken: tc.token, CSR: tc.csr})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Attest: %v, want %v", err, tc.want)
			}
			evs := e.audit.Find("agent.attested", audit.OutcomeDenied)
			if len(evs) != before+1 || evs[len(evs)-1].Reason != tc.reason {
				t.Errorf("recorded refusals = %+v, want one more with reason %q", evs[before:], tc.reason)
			}
		})
	}
	// A bad CSR does not burn the token.
	if _, err := e.svc.Attest(t.Context(), nodes.AttestRequest{JoinToken: fresh, CSR: newCSR(t)}); err != nil {
		t.Errorf("Attest with the token after a bad CSR: %v", err)
	}
}

func TestAttestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, time.Hour)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		csr := newCSR(t)
		wg.Go(func() {
			_, errs[i] = e.svc.Attest(context.Background(), nodes.AttestRequest{JoinToken: tok, CSR: csr})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, nodes.ErrJoinTokenUsed):
			t.Errorf("losing Attest: %v, want ErrJoinTokenUsed", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d attestations won with one token, want exactly 1", wins)
	}
	if got := len(e.audit.Find("agent.attested", audit.OutcomeDenied)); got != n-1 {
		t.Errorf("%d refusals recorded, want %d", got, n-1)
	}
	agents, _, err := e.svc.List(t.Context(), "", 0)
	if err != nil || len(agents) != 1 {
		t.Errorf("List = %d agents, %v; want 1", len(agents), err)
	}
}

func TestCreateJoinTokenTTL(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		ttl  time.Duration
		want error
	}{
		{0, nil},
		{time.Minute, nil},
		{nodes.MaxJoinTokenTTL, nil},
		{time.Second, nodes.ErrInvalidRequest},
		{nodes.MaxJoinTokenTTL + time.Second, nodes.ErrInvalidRequest},
		{-time.Hour, nodes.ErrInvalidRequest},
	}
	for _, tc := range tests {
		tok, err := e.svc.CreateJoinToken(t.Context(), admin, tc.ttl)
		if !errors.Is(err, tc.want) || (tc.want != nil) != (err != nil) {
			t.Errorf("CreateJoinToken(%v): %v, want %v", tc.ttl, err, tc.want)
			continue
		}
		if err != nil {
			continue
		}
		want := tc.ttl
		if want == 0 {
			want = nodes.DefaultJoinTokenTTL
		}
		if got := tok.ExpiresAt.Sub(e.clock.Now()); got != want {
			t.Errorf("CreateJoinToken(%v) expires in %v, want %v", tc.ttl, got, want)
		}
	}
}

// TestJoinTokenNeedsItsAuditEvent: a join token whose creation cannot be
// recorded is not stored.
func TestJoinTokenNeedsItsAuditEvent(t *testing.T) {
	e := newEnv(t)
	e.audit.FailTx(errors.New("ledger down"))
	if _, err := e.svc.CreateJoinToken(t.Context(), admin, time.Hour); err == nil || !strings.Contains(err.Error(), "ledger down") {
		t.Fatalf("CreateJoinToken = %v, want the ledger's error", err)
	}
	n, err := e.store.DeleteExpiredJoinTokens(t.Context(), time.Now().Add(100*365*24*time.Hour))
	if err != nil || n != 0 {
		t.Errorf("%d join tokens stored (%v), want none", n, err)
	}
}
