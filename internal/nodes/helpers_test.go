package nodes_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/ledger/ledgertest"
	"github.com/kith-dev/kith/internal/nodes"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/revocation/revocationstore"
	"github.com/kith-dev/kith/internal/store"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

// clock is a settable test clock; it starts at the real time, so that
// go-spiffe's verifiers, which read the real clock, accept what the CA
// mints.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a Service on a real SQLite store, CA, registry and revocation set.
type env struct {
	svc     *nodes.Service
	store   *store.Store
	ca      *ca.CA
	reg     *registry.Registry
	revs    *revocation.Set
	audit   *ledgertest.Events
	clock   *clock
	changes int
	mu      sync.Mutex
}

var admin = audit.Actor{Kind: "admin", ID: "admin:test"}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: filepath.Join(t.TempDir(), "kith.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st, audit: &ledgertest.Events{}, clock: &clock{now: time.Now().Truncate(time.Second)}}
	key := make([]byte, ca.KEKSize)
	rand.Read(key)
	kek, err := ca.NewKEK(key)
	if err != nil {
		t.Fatal(err)
	}
	if e.ca, err = ca.New(ctx, ca.Config{TrustDomain: td, Journal: st, KEK: kek, Clock: e.clock.Now, Auditor: e.audit}); err != nil {
		t.Fatal(err)
	}
	if e.reg, err = registry.New(registry.Config{TrustDomain: td, Store: st, Auditor: e.audit, Clock: e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if e.revs, err = revocation.New(ctx, revocation.Config{Store: revocationstore.New(st), Clock: e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	e.svc, err = nodes.New(nodes.Config{
		TrustDomain: td, Store: st, CA: e.ca, Entries: e.reg, Revocations: e.revs, Auditor: e.audit,
		Clock: e.clock.Now, Changed: func() { e.mu.Lock(); e.changes++; e.mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) changed() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changes
}

// newCSR returns a CSR for a fresh P-256 key.
func newCSR(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func (e *env) token(t testing.TB, ttl time.Duration) string {
	t.Helper()
	tok, err := e.svc.CreateJoinToken(context.Background(), admin, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Reveal()
}

// attest attests a new agent and returns it authenticated.
func (e *env) attest(t testing.TB) *nodes.Caller {
	t.Helper()
	att, err := e.svc.Attest(context.Background(), nodes.AttestRequest{JoinToken: e.token(t, 0), CSR: newCSR(t)})
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	c, err := e.svc.Authenticate(context.Background(), att.SVID.Certificates, "127.0.0.1:1")
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return c
}

// anyAgent, as the parent of e.entry, opts the entry in to being served
// by every agent.
const anyAgent = "any"

// entry registers an entry for spiffe://example.org/<name> under parent
// (an agent's SPIFFE ID, anyAgent, or "" for none).
func (e *env) entry(t testing.TB, name, parent, status string, x509TTL time.Duration) registry.Entry {
	t.Helper()
	spec := registry.Spec{
		SPIFFEID: "spiffe://example.org/" + name, ParentID: parent, Selectors: []string{"unix:uid:1000"},
		Status: status, X509SVIDTTL: x509TTL,
	}
	if parent == anyAgent {
		spec.ParentID, spec.AnyAgent = "", true
	}
	en, err := e.reg.Create(context.Background(), admin, spec)
	if err != nil {
		t.Fatalf("create entry %s: %v", name, err)
	}
	return en
}

// revokedValues returns the values of the revocation set's entries of
// kind k.
func (e *env) revokedValues(k revocation.Kind) []string {
	all, _ := e.revs.Since(0)
	var out []string
	for _, r := range all {
		if r.Kind == k {
			out = append(out, r.Value)
		}
	}
	slices.Sort(out)
	return out
}
