// Package oauthtest runs a real token service for tests of its clients:
// an oauth.Service over a SQLite store, a registry, a CA and a revocation
// set, served over HTTPS on loopback with a settable clock. It is only for
// tests and must not be imported by production code.
package oauthtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/ledger/ledgertest"
	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/revocation/revocationstore"
	"github.com/kith-dev/kith/internal/store"
)

// TrustDomain is the trust domain of the test service.
var TrustDomain = spiffeid.RequireTrustDomainFromString("kith.test")

// Admin is the actor of the environment's management calls.
var Admin = audit.Actor{Kind: "admin", ID: "admin:test"}

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewClock returns a Clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Events is an auditor that keeps what it records.
type Events = ledgertest.Events

// Env is a running token service.
type Env struct {
	T           testing.TB
	Service     *oauth.Service
	Store       *store.Store
	Registry    *registry.Registry
	CA          *ca.CA
	Revocations *revocation.Set
	Events      *Events
	Clock       *Clock
	// Issuer is https://localhost:<port>; BaseURL is
	// https://127.0.0.1:<port>, where clients connect (with TLS server
	// name "localhost").
	Issuer, BaseURL string
	// Roots verify the server's certificate, an X509-SVID for localhost.
	Roots  *x509.CertPool
	Server *httptest.Server
}

// New starts a token service. Its clock starts at the current time;
// mutate may change the Config before the service is built.
func New(t testing.TB, mutate ...func(*oauth.Config)) *Env {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, store.Config{URL: filepath.Join(t.TempDir(), "kith.db")})
	if err != nil {
		t.Fatalf("oauthtest: store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e := &Env{T: t, Store: st, Events: &Events{}, Clock: &Clock{now: time.Now().Truncate(time.Second)}}
	key := make([]byte, ca.KEKSize)
	rand.Read(key)
	kek, err := ca.NewKEK(key)
	if err != nil {
		t.Fatal(err)
	}
	if e.CA, err = ca.New(ctx, ca.Config{TrustDomain: TrustDomain, Journal: st, KEK: kek, Clock: e.Clock.Now, Auditor: e.Events}); err != nil {
		t.Fatalf("oauthtest: ca: %v", err)
	}
	if e.Registry, err = registry.New(registry.Config{TrustDomain: TrustDomain, Store: st, Auditor: e.Events, Clock: e.Clock.Now}); err != nil {
		t.Fatal(err)
	}
	if e.Revocations, err = revocation.New(ctx, revocation.Config{Store: revocationstore.New(st), Clock: e.Clock.Now}); err != nil {
		t.Fatal(err)
	}
	e.Server = httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(e.Server.Listener.Addr().String())
	e.Issuer, e.BaseURL = "https://localhost:"+port, "https://127.0.0.1:"+port
	cfg := oauth.Config{
		Issuer: e.Issuer, AltBaseURLs: []string{e.BaseURL}, TrustDomain: TrustDomain,
		Clients: st, Keys: st, KEK: kek, Registry: e.Registry, Bundles: e.CA, Revocations: e.Revocations,
		Auditor: e.Events, Clock: e.Clock.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	if e.Service, err = oauth.New(ctx, cfg); err != nil {
		t.Fatalf("oauthtest: oauth.New: %v", err)
	}
	serverCert := e.SVID("kith/server", "localhost")
	e.Server.Config.Handler = e.Service.Handler()
	e.Server.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequestClientCert}
	e.Server.StartTLS()
	t.Cleanup(e.Server.Close)
	e.Roots = x509.NewCertPool()
	for _, c := range e.CA.X509Authorities() {
		e.Roots.AddCert(c)
	}
	return e
}

// Entry registers spiffe://kith.test/<name> with the given max scopes.
func (e *Env) Entry(name string, maxScopes ...string) registry.Entry {
	e.T.Helper()
	ent, err := e.Registry.Create(e.T.Context(), Admin, registry.Spec{
		SPIFFEID: "spiffe://kith.test/" + name, Selectors: []string{"unix:uid:1000"}, MaxScopes: maxScopes,
	})
	if err != nil {
		e.T.Fatalf("oauthtest: create entry: %v", err)
	}
	return ent
}

// Client creates a client; it fails the test on error.
func (e *Env) Client(spec oauth.ClientSpec) (oauth.Client, oauth.Secret) {
	e.T.Helper()
	c, sec, err := e.Service.CreateClient(e.T.Context(), Admin, spec)
	if err != nil {
		e.T.Fatalf("oauthtest: create client: %v", err)
	}
	return c, sec
}

// SVID mints an X509-SVID for spiffe://kith.test/<name> with the given DNS
// names, as a TLS certificate.
func (e *Env) SVID(name string, dnsNames ...string) tls.Certificate {
	e.T.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		e.T.Fatal(err)
	}
	s, err := e.CA.MintX509SVID(e.T.Context(), ca.X509Params{CSR: csr, SPIFFEID: spiffeid.RequireFromPath(TrustDomain, "/"+name), DNSNames: dnsNames})
	if err != nil {
		e.T.Fatalf("oauthtest: mint X509-SVID: %v", err)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: s.Certificates[0]}
	for _, c := range s.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert
}

// JWTSVID mints a JWT-SVID for spiffe://kith.test/<name>.
func (e *Env) JWTSVID(name string, audience ...string) string {
	e.T.Helper()
	tok, _, err := e.CA.MintJWTSVID(e.T.Context(), ca.JWTParams{SPIFFEID: spiffeid.RequireFromPath(TrustDomain, "/"+name), Audience: audience})
	if err != nil {
		e.T.Fatalf("oauthtest: mint JWT-SVID: %v", err)
	}
	return tok
}

// HTTPClient returns a client that trusts the server and presents certs,
// with keep-alive.
func (e *Env) HTTPClient(certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: e.Roots, ServerName: "localhost", Certificates: certs},
	}}
}
