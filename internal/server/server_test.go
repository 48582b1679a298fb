package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/await"
)

// testServer is a running in-process server and an HTTPS client that
// verifies its SVID the SPIFFE way.
type testServer struct {
	*Server
	dir    string
	token  string
	client *http.Client

	done     chan error // Run's result
	stopOnce sync.Once
}

// startServer runs a server for td in a fresh data folder until the end
// of t. A server joining a store that has an admin credential already (a
// second replica) creates no admin token; its token is then empty.
func startServer(t testing.TB, td string, mutate ...func(*Config)) *testServer {
	t.Helper()
	return startServerCtx(t, context.Background(), td, mutate...)
}

// startServerCtx is startServer for a server that also stops when ctx is
// done (see testServer.wait).
func startServerCtx(t testing.TB, parent context.Context, td string, mutate ...func(*Config)) *testServer {
	t.Helper()
	cfg := Config{TrustDomain: td, ListenAddr: "127.0.0.1:0", DataDir: t.TempDir()}
	for _, m := range mutate {
		m(&cfg)
	}
	dir := cfg.DataDir
	ctx, cancel := context.WithCancel(parent)
	srv, err := New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	ts := &testServer{Server: srv, dir: dir, done: done}
	t.Cleanup(func() {
		cancel()
		ts.wait(t)
	})
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil && !(errors.Is(err, fs.ErrNotExist) && srv.NewAdminToken() == nil) {
		t.Fatal(err)
	}
	bundle := x509bundle.FromX509Authorities(srv.TrustDomain(), srv.CA().Bundle().X509Authorities())
	tc := tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(srv.ID()))
	ts.token = strings.TrimSpace(string(tok))
	ts.client = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	return ts
}

// wait waits for the server's Run to return (once its context is done),
// and reports its error; later calls return at once.
func (ts *testServer) wait(t testing.TB) {
	t.Helper()
	ts.stopOnce.Do(func() {
		if err := <-ts.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// do sends an admin request and decodes a JSON answer into out (if non-nil).
func (ts *testServer) do(t testing.TB, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "https://"+ts.Addr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

func TestEveryAdminRouteRequiresTheCredential(t *testing.T) {
	// This test is about authentication on every route; the limit on
	// failures per source has its own test.
	ts := startServer(t, "example.org", func(c *Config) { c.AdminFailureRate = 1e6 })
	routes := ts.allAdminRoutes()
	if len(routes) < 22 {
		t.Fatalf("only %d admin routes listed", len(routes))
	}
	wrong := []struct{ name, token string }{
		{"missing", ""},
		{"malformed", "not-a-token"},
		{"unknown id", "kith_admin_000000000000_" + strings.Repeat("A", 43)},
		{"wrong secret", ts.token[:len(ts.token)-4] + "AAAA"},
		{"basic scheme", ""},
	}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.NewReplacer("{id}", "0123", "{td}", "other.test", "{index}", "0").Replace(path)
		for _, w := range wrong {
			t.Run(rt.pattern+"/"+w.name, func(t *testing.T) {
				req, _ := http.NewRequest(method, "https://"+ts.Addr()+path, strings.NewReader("{}"))
				switch {
				case w.name == "basic scheme":
					req.SetBasicAuth("admin", ts.token)
				case w.token != "":
					req.Header.Set("Authorization", "Bearer "+w.token)
				}
				resp, err := ts.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var p api.Problem
				json.NewDecoder(resp.Body).Decode(&p)
				if resp.StatusCode != http.StatusUnauthorized || p.Status != 401 {
					t.Errorf("status %d (problem %+v), want 401", resp.StatusCode, p)
				}
				if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			})
		}
	}
	// The right token passes authentication on the same routes.
	if code := ts.do(t, "GET", "/v1/entries", ts.token, nil, nil); code != http.StatusOK {
		t.Errorf("GET /v1/entries with the token: %d", code)
	}
	// Every failure is recorded; repeats from one source are coalesced
	// into events that count them.
	ts.flushAuthFailures(t.Context())
	evs, _ := ts.authFailedEvents(t)
	recorded := 0
	for _, ev := range evs {
		c, _ := strconv.Atoi(ev.Details["count"])
		recorded += c
	}
	if want := len(routes) * len(wrong); recorded != want {
		t.Errorf("recorded %d failed admin logins, want %d", recorded, want)
	}
}

// TestAdminAuthFailureLongPath: a failed login with a very long request
// path is still recorded, its target cut short.
func TestAdminAuthFailureLongPath(t *testing.T) {
	ts := startServer(t, "example.org")
	path := "/v1/entries/" + strings.Repeat("x", 30_000) // under the 64 KiB header limit
	if code := ts.do(t, "GET", path, "not-a-token", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("GET with a wrong token: %d, want 401", code)
	}
	var events api.EventList
	ts.do(t, "GET", "/v1/events?type=admin.auth.failed", ts.token, nil, &events)
	if len(events.Events) != 1 {
		t.Fatalf("%d failed logins recorded, want 1", len(events.Events))
	}
	var ev audit.Event
	if err := json.Unmarshal(events.Events[0].Event, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Target) > maxAuditTarget+len("…") || !strings.HasPrefix(ev.Target, "GET /v1/entries/xxx") {
		t.Errorf("recorded target of %d bytes: %.60q", len(ev.Target), ev.Target)
	}
}

func TestAdminTokenFile(t *testing.T) {
	ts := startServer(t, "example.org")
	fi, err := os.Stat(filepath.Join(ts.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.token mode %v, want 0600", fi.Mode().Perm())
	}
	if !strings.HasPrefix(ts.token, adminTokenPrefix) {
		t.Errorf("token lacks prefix")
	}
	if s := fmt.Sprint(ts.NewAdminToken()); strings.Contains(s, ts.token[len(adminTokenPrefix):]) {
		t.Errorf("AdminToken prints its secret: %s", s)
	}
}

func TestRestartKeepsCredentialAndCA(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{TrustDomain: "example.org", ListenAddr: "127.0.0.1:0", DataDir: dir}
	s1, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	roots1 := s1.CA().Bundle().X509Authorities()
	s1.close()
	s2, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.close()
	if s2.NewAdminToken() != nil {
		t.Error("second start created another admin token")
	}
	roots2 := s2.CA().Bundle().X509Authorities()
	if len(roots1) != 1 || len(roots2) != 1 || !roots1[0].Equal(roots2[0]) {
		t.Error("CA root changed across restart")
	}
}

func TestEntryLifecycleOverHTTP(t *testing.T) {
	ts := startServer(t, "example.org")
	in := api.Entry{SPIFFEID: "spiffe://example.org/orders", Selectors: []string{"unix:uid:1000"}, Owner: "team-orders",
		X509SVIDTTL: api.Duration(10 * time.Minute)}
	var e api.Entry
	if code := ts.do(t, "POST", "/v1/entries", ts.token, in, &e); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	if e.ID == "" || e.Status != "active" || time.Duration(e.X509SVIDTTL) != 10*time.Minute {
		t.Errorf("created %+v", e)
	}
	var p api.Problem
	if code := ts.do(t, "POST", "/v1/entries", ts.token, in, &p); code != http.StatusConflict {
		t.Errorf("duplicate create: %d %+v", code, p)
	}
	bad := in
	bad.SPIFFEID = "spiffe://other.org/orders"
	if code := ts.do(t, "POST", "/v1/entries", ts.token, bad, &p); code != http.StatusBadRequest || p.Field != "spiffe_id" {
		t.Errorf("foreign trust domain: %d %+v", code, p)
	}
	if code := ts.do(t, "POST", "/v1/entries", ts.token, map[string]any{"spiffe_id": "x", "bogus": 1}, &p); code != http.StatusBadRequest {
		t.Errorf("unknown field: %d %+v", code, p)
	}
	e.Status = "quarantined"
	var upd api.Entry
	if code := ts.do(t, "PUT", "/v1/entries/"+e.ID, ts.token, e, &upd); code != http.StatusOK || upd.Status != "quarantined" {
		t.Fatalf("update: %d %+v", code, upd)
	}
	if code := ts.do(t, "PUT", "/v1/entries/"+e.ID, ts.token, e, &p); code != http.StatusConflict {
		t.Errorf("stale update: %d", code)
	}
	// A quarantined entry gets no SVID.
	csr := newCSR(t)
	if code := ts.do(t, "POST", "/v1/svids/x509", ts.token, api.X509SVIDMint{SPIFFEID: e.SPIFFEID, CSR: csr}, &p); code != http.StatusForbidden {
		t.Errorf("mint for quarantined entry: %d %+v", code, p)
	}
	var list api.EntryList
	ts.do(t, "GET", "/v1/entries?status=quarantined", ts.token, nil, &list)
	if len(list.Entries) != 1 {
		t.Errorf("list by status: %+v", list)
	}
	if code := ts.do(t, "DELETE", "/v1/entries/"+e.ID, ts.token, nil, nil); code != http.StatusNoContent {
		t.Errorf("delete: %d", code)
	}
	if code := ts.do(t, "GET", "/v1/entries/"+e.ID, ts.token, nil, &p); code != http.StatusNotFound {
		t.Errorf("get deleted: %d", code)
	}
}

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

func TestMintSVIDsVerifyWithGoSPIFFE(t *testing.T) {
	ts := startServer(t, "example.org")
	var svid api.X509SVID
	if code := ts.do(t, "POST", "/v1/svids/x509", ts.token, api.X509SVIDMint{SPIFFEID: "spiffe://example.org/batch", CSR: newCSR(t), TTL: api.Duration(5 * time.Minute)}, &svid); code != http.StatusOK {
		t.Fatalf("mint: %d", code)
	}
	var raw json.RawMessage
	ts.do(t, "GET", "/v1/bundle", ts.token, nil, &raw)
	bundle, err := spiffebundle.Parse(ts.TrustDomain(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var chain []*x509.Certificate
	for _, der := range svid.Certificates {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	id, _, err := x509svid.Verify(chain, bundle)
	if err != nil || id.String() != "spiffe://example.org/batch" {
		t.Fatalf("x509svid.Verify = %v, %v", id, err)
	}
	if d := time.Until(chain[0].NotAfter); d > 5*time.Minute+time.Second || d < 4*time.Minute {
		t.Errorf("TTL not honoured: expires in %v", d)
	}
	var p api.Problem
	if code := ts.do(t, "POST", "/v1/svids/x509", ts.token, api.X509SVIDMint{SPIFFEID: "spiffe://example.org/batch", CSR: []byte("junk")}, &p); code != http.StatusBadRequest || p.Field != "csr" {
		t.Errorf("junk CSR: %d %+v", code, p)
	}
	if code := ts.do(t, "POST", "/v1/svids/x509", ts.token, api.X509SVIDMint{SPIFFEID: "spiffe://example.org/kith/server", CSR: newCSR(t)}, &p); code != http.StatusBadRequest {
		t.Errorf("reserved ID: %d %+v", code, p)
	}
	var jwt api.JWTSVID
	if code := ts.do(t, "POST", "/v1/svids/jwt", ts.token, api.JWTSVIDMint{SPIFFEID: "spiffe://example.org/batch", Audience: []string{"payments"}}, &jwt); code != http.StatusOK || strings.Count(jwt.Token, ".") != 2 {
		t.Fatalf("jwt mint: %d %+v", code, jwt)
	}
}

func TestPublicEndpoints(t *testing.T) {
	ts := startServer(t, "example.org")
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/bundle"} {
		resp, err := ts.client.Get("https://" + ts.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		if path == "/metrics" && !bytes.Contains(body, []byte("kith_http_requests_total")) {
			t.Errorf("/metrics lacks kith_http_requests_total")
		}
		if path == "/bundle" {
			if _, err := spiffebundle.Parse(ts.TrustDomain(), body); err != nil {
				t.Errorf("/bundle: %v", err)
			}
		}
	}
}

// TestFederationBetweenTwoServers federates two in-process Kith servers over
// the https_spiffe bundle endpoint, then verifies an SVID of one with the
// other's view of the federated bundle.
func TestFederationBetweenTwoServers(t *testing.T) {
	a := startServer(t, "a.test")
	b := startServer(t, "b.test")

	var bootstrap json.RawMessage
	a.do(t, "GET", "/v1/bundle", a.token, nil, &bootstrap)
	var fed api.Federation
	code := b.do(t, "POST", "/v1/federations", b.token, api.FederationCreate{
		TrustDomain: "a.test", BundleEndpointURL: "https://" + a.Addr() + "/bundle",
		Profile: "https_spiffe", EndpointSPIFFEID: "spiffe://a.test/kith/server", Bootstrap: bootstrap,
	}, &fed)
	if code != http.StatusCreated {
		t.Fatalf("add federation: %d %+v", code, fed)
	}

	var svid api.X509SVID
	if code := a.do(t, "POST", "/v1/svids/x509", a.token, api.X509SVIDMint{SPIFFEID: "spiffe://a.test/orders", CSR: newCSR(t)}, &svid); code != http.StatusOK {
		t.Fatalf("mint on a: %d", code)
	}
	var chain []*x509.Certificate
	for _, der := range svid.Certificates {
		c, _ := x509.ParseCertificate(der)
		chain = append(chain, c)
	}
	// b's view of a's bundle, as its admin API shows it.
	var got api.Federation
	if code := b.do(t, "GET", "/v1/federations/a.test", b.token, nil, &got); code != http.StatusOK {
		t.Fatalf("get federation: %d", code)
	}
	foreign, err := spiffebundle.Parse(spiffeid.RequireTrustDomainFromString("a.test"), got.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if id, _, err := x509svid.Verify(chain, foreign); err != nil || id.String() != "spiffe://a.test/orders" {
		t.Fatalf("verify a's SVID with b's federated bundle: %v %v", id, err)
	}
	// b's own bundle does not verify it: bundles are kept apart.
	if _, _, err := x509svid.Verify(chain, b.CA().Bundle()); err == nil {
		t.Error("b's own bundle verified a's SVID")
	}
	// A wrong endpoint SPIFFE ID fails authentication and stores nothing.
	var p api.Problem
	code = b.do(t, "POST", "/v1/federations", b.token, api.FederationCreate{
		TrustDomain: "c.test", BundleEndpointURL: "https://" + a.Addr() + "/bundle",
		Profile: "https_spiffe", EndpointSPIFFEID: "spiffe://c.test/kith/server", Bootstrap: bootstrap,
	}, &p)
	if code < 400 {
		t.Errorf("federating with a mismatched bootstrap succeeded: %d", code)
	}
	if code := b.do(t, "DELETE", "/v1/federations/a.test", b.token, nil, nil); code != http.StatusNoContent {
		t.Errorf("remove: %d", code)
	}
	if code := b.do(t, "GET", "/v1/federations/a.test", b.token, nil, &p); code != http.StatusNotFound {
		t.Errorf("get removed: %d", code)
	}
}

func TestClientFilesForTheCLI(t *testing.T) {
	ts := startServer(t, "example.org")
	var info struct {
		Addr        string `json:"addr"`
		TrustDomain string `json:"trust_domain"`
	}
	raw, err := os.ReadFile(filepath.Join(ts.dir, "server.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &info); err != nil || info.Addr != ts.Addr() || info.TrustDomain != "example.org" {
		t.Errorf("server.json = %s (%v)", raw, err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(ts.dir, "bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("bundle.pem holds no certificate")
	}
	// The server's certificate chains to bundle.pem.
	conn, err := tls.Dial("tcp", ts.Addr(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter}); err != nil {
		t.Errorf("server certificate does not chain to bundle.pem: %v", err)
	}
	if len(certs[0].URIs) != 1 || certs[0].URIs[0].String() != "spiffe://example.org/kith/server" {
		t.Errorf("server certificate URIs = %v", certs[0].URIs)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no trust domain", Config{}},
		{"bad trust domain", Config{TrustDomain: "Not A Domain"}},
		{"partial upstream", Config{TrustDomain: "example.org", UpstreamCertFile: "x"}},
		{"partial bundle endpoint", Config{TrustDomain: "example.org", BundleEndpointAddr: "127.0.0.1:0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.DataDir = t.TempDir()
			if _, err := New(t.Context(), tt.cfg); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}

// TestLedgerMetrics: /metrics exports the audit ledger's tree size,
// appends, commits and latest checkpoint, for events recorded by Record
// (an SVID minted) and by a change's transaction (an entry created).
func TestLedgerMetrics(t *testing.T) {
	ts := startServer(t, "example.org", func(c *Config) { c.CheckpointInterval = 20 * time.Millisecond })
	var jwt api.JWTSVID
	if code := ts.do(t, "POST", "/v1/svids/jwt", ts.token, api.JWTSVIDMint{SPIFFEID: "spiffe://example.org/batch", Audience: []string{"payments"}}, &jwt); code != http.StatusOK {
		t.Fatalf("jwt mint: %d", code)
	}
	if code := ts.do(t, "POST", "/v1/entries", ts.token, api.Entry{SPIFFEID: "spiffe://example.org/orders",
		Selectors: []string{"unix:uid:1"}}, nil); code != http.StatusCreated {
		t.Fatalf("create entry: %d", code)
	}
	value := func(name string) float64 {
		mfs, err := ts.metrics.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name && len(mf.GetMetric()) == 1 {
				m := mf.GetMetric()[0]
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	size := float64(ts.Ledger().Stats().TreeSize)
	// For a publishing round that covers the tree; the check below reports.
	await.Signal(5*time.Second, ts.Ledger().Changed, func() bool { return value("kith_ledger_checkpoint_size") >= size })
	if size < 2 || value("kith_ledger_tree_size") < size || value("kith_ledger_checkpoint_size") < size ||
		value("kith_ledger_events_appended_total") < 2 || value("kith_ledger_commits_total") < 2 ||
		value("kith_ledger_commit_seconds_total") <= 0 || value("kith_ledger_checkpoint_timestamp_seconds") <= 0 {
		t.Errorf("tree %v: metrics tree %v, checkpoint %v at %v, appended %v in %v commits (%vs)", size,
			value("kith_ledger_tree_size"), value("kith_ledger_checkpoint_size"), value("kith_ledger_checkpoint_timestamp_seconds"),
			value("kith_ledger_events_appended_total"), value("kith_ledger_commits_total"), value("kith_ledger_commit_seconds_total"))
	}
}
