package nodes_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/nodes"
	"github.com/kith-dev/kith/internal/revocation"
)

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	mint := func(c *ca.CA, path string) []*x509.Certificate {
		t.Helper()
		svid, err := c.MintX509SVID(t.Context(), ca.X509Params{CSR: newCSR(t), SPIFFEID: spiffeid.RequireFromPath(td, path)})
		if err != nil {
			t.Fatal(err)
		}
		return svid.Certificates
	}
	good := e.attest(t)
	goodChain := []*x509.Certificate{good.Leaf}
	evicted := e.attest(t)
	if _, err := e.svc.Evict(t.Context(), admin, evicted.Agent.ID); err != nil {
		t.Fatal(err)
	}
	revoked := e.attest(t)
	if _, err := e.revs.Revoke(t.Context(), revocation.Entry{Kind: revocation.KindX509Serial, Value: revoked.Leaf.SerialNumber.Text(16)}); err != nil {
		t.Fatal(err)
	}
	other := newEnv(t)

	tests := []struct {
		name  string
		chain []*x509.Certificate
		want  error
	}{
		{"agent", goodChain, nil},
		{"no certificate", nil, nodes.ErrUnauthenticated},
		{"agent ID from another CA", mint(other.ca, "/kith/agent/"+good.Agent.ID), nodes.ErrUnauthenticated},
		{"workload SVID", mint(e.ca, "/web"), nodes.ErrUnauthenticated},
		{"malformed agent ID", mint(e.ca, "/kith/agent/"+strings.ToUpper(good.Agent.ID)), nodes.ErrUnauthenticated},
		{"unknown agent", mint(e.ca, "/kith/agent/"+strings.Repeat("0", 32)), nodes.ErrUnauthenticated},
		{"evicted agent", []*x509.Certificate{evicted.Leaf}, nodes.ErrEvicted},
		{"revoked serial", []*x509.Certificate{revoked.Leaf}, nodes.ErrUnauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.svc.Authenticate(t.Context(), tc.chain, "127.0.0.1:9")
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Authenticate: %v, want %v", err, tc.want)
			}
			if err == nil && (c.Agent.ID != good.Agent.ID || c.Actor.ID != good.Agent.SPIFFEID.String() || c.Actor.RemoteAddr != "127.0.0.1:9") {
				t.Errorf("caller = %+v", c)
			}
		})
	}
}

func TestAuthenticateRecordsRefusals(t *testing.T) {
	e := newEnv(t)
	c := e.attest(t)
	if _, err := e.svc.Evict(t.Context(), admin, c.Agent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(t.Context(), []*x509.Certificate{c.Leaf}, "10.1.1.1:7"); !errors.Is(err, nodes.ErrEvicted) {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(t.Context(), nil, "10.1.1.2:7"); !errors.Is(err, nodes.ErrUnauthenticated) {
		t.Fatal(err)
	}
	evs := e.audit.Find("agent.authenticated", audit.OutcomeDenied)
	if len(evs) != 2 || evs[0].Actor.ID != c.Agent.SPIFFEID.String() || evs[0].Actor.RemoteAddr != "10.1.1.1:7" ||
		evs[1].Actor.ID != "unauthenticated" {
		t.Errorf("recorded refusals: %+v", evs)
	}
}
