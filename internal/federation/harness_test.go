package federation

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

var (
	ownTD      = spiffeid.RequireTrustDomainFromString("kith.test")
	foreignTD  = spiffeid.RequireTrustDomainFromString("foreign.test")
	endpointID = spiffeid.RequireFromString("spiffe://foreign.test/bundle-endpoint")
	admin      = audit.Actor{Kind: "admin", ID: "admin-1"}
)

// endpoint is a bundle endpoint on loopback whose certificate and bundle
// can change between requests.
type endpoint struct {
	srv *httptest.Server

	mu     sync.Mutex
	cert   tls.Certificate
	body   []byte
	status int // non-zero: answer with this status instead of the bundle
	hits   int
	// hook, when set, answers requests instead of serving the bundle.
	hook http.HandlerFunc
}

func newEndpoint(t testing.TB, cert tls.Certificate, body []byte) *endpoint {
	t.Helper()
	e := &endpoint{cert: cert, body: body}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(e.serve))
	// Failed handshakes are what several tests are about; keep them quiet.
	e.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	// GetConfigForClient (unlike GetCertificate) is consulted even when the
	// client sends no SNI, as it does when dialling 127.0.0.1.
	e.srv.TLS = &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			return &tls.Config{Certificates: []tls.Certificate{e.cert}}, nil
		},
	}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	hook := e.hook
	if hook != nil {
		e.hits++
		e.mu.Unlock()
		hook(w, r)
		return
	}
	defer e.mu.Unlock()
	e.hits++
	if e.status != 0 {
		http.Error(w, "unavailable", e.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(e.body)
}

func (e *endpoint) URL() string { return e.srv.URL }

func (e *endpoint) set(cert tls.Certificate, body []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cert, e.body, e.status = cert, body, 0
}

func (e *endpoint) setBody(body []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.body, e.status = body, 0
}

func (e *endpoint) setHook(h http.HandlerFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hook = h
}

func (e *endpoint) fail(status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status = status
}

func (e *endpoint) hitCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits
}

// fixture is a Manager over fakes.
type fixture struct {
	m     *Manager
	store *memStore
	audit *memAuditor
	clock *fakeClock
}

func newFixture(t testing.TB, configure ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{store: newMemStore(), audit: newMemAuditor(), clock: newFakeClock()}
	cfg := Config{
		OwnTrustDomain: ownTD,
		Store:          f.store,
		Auditor:        f.audit,
		Clock:          f.clock.Now,
	}
	for _, c := range configure {
		c(&cfg)
	}
	m, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.m = m
	return f
}

// foreignSetup is a foreign trust domain served over https_spiffe: its root
// CA, its bundle endpoint presenting an SVID from that root, and the
// relationship to add.
type foreignSetup struct {
	ca  *testCA
	ep  *endpoint
	rel Relationship
}

func newForeign(t testing.TB) *foreignSetup {
	t.Helper()
	ca := newCA(t, foreignTD, "foreign root A")
	ep := newEndpoint(t, ca.svid(t, endpointID), marshal(t, newBundle(foreignTD, 1, ca)))
	return &foreignSetup{
		ca: ca,
		ep: ep,
		rel: Relationship{
			TrustDomain:       foreignTD,
			BundleEndpointURL: ep.URL(),
			Profile:           ProfileHTTPSSPIFFE,
			EndpointSPIFFEID:  endpointID,
		},
	}
}

// bootstrap returns the foreign bundle as given out of band.
func (fs *foreignSetup) bootstrap(t testing.TB) []byte {
	t.Helper()
	return marshal(t, newBundle(foreignTD, 1, fs.ca))
}

// mustAdd adds fs to f's Manager.
func (f *fixture) mustAdd(t testing.TB, fs *foreignSetup) Status {
	t.Helper()
	st, err := f.m.Add(t.Context(), admin, fs.rel, fs.bootstrap(t))
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	return st
}

// held returns the bundle f's Manager holds for td.
func (f *fixture) held(t testing.TB, td spiffeid.TrustDomain) *spiffebundle.Bundle {
	t.Helper()
	b, err := f.m.GetBundleForTrustDomain(td)
	if err != nil {
		t.Fatalf("GetBundleForTrustDomain(%q): %v", td, err)
	}
	return b
}

func (f *fixture) status(t testing.TB, td spiffeid.TrustDomain) Status {
	t.Helper()
	sts, err := f.m.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, st := range sts {
		if st.TrustDomain == td {
			return st
		}
	}
	t.Fatalf("no status for %q", td)
	return Status{}
}

// cmpSPIFFE lets go-cmp compare the SPIFFE ID types, whose fields are
// unexported.
func cmpSPIFFE() cmp.Option {
	return cmpopts.EquateComparable(spiffeid.TrustDomain{}, spiffeid.ID{})
}

func itoa(n int) string { return strconv.Itoa(n) }
