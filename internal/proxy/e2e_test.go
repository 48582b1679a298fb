package proxy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/agent"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/dataplane"
	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/server"
)

// e2eEnv is a real server and a real agent running in-process on
// loopback, with a data-plane view following the agent.
type e2eEnv struct {
	srv   *server.Server
	admin *adminclient.Client
	agent *agent.Agent
	sock  string // the agent's Workload API socket
	view  *dataplane.View
	// stopServer stops the server and waits for its Run; it may be
	// called more than once.
	stopServer func()
}

func e2eLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// runUntilCleanup runs fn in a goroutine until the test ends, then
// cancels it and waits up to 20 seconds for it to return.
func runUntilCleanup(t testing.TB, what string, fn func(context.Context) error) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s Run: %v", what, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop", what)
		}
	})
	return done
}

// newE2EEnv starts the server (its Config changed by mutate), joins an
// agent to it and follows the agent's data-plane feed.
func newE2EEnv(t *testing.T, mutate ...func(*server.Config)) *e2eEnv {
	t.Helper()
	e := &e2eEnv{}
	var err error
	cfg := server.Config{TrustDomain: "example.org", ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: e2eLogger(t)}
	for _, m := range mutate {
		m(&cfg)
	}
	e.srv, err = server.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	sdone := make(chan error, 1)
	go func() { sdone <- e.srv.Run(sctx) }()
	e.stopServer = sync.OnceFunc(func() {
		scancel()
		if err := <-sdone; err != nil {
			t.Errorf("server Run: %v", err)
		}
	})
	t.Cleanup(e.stopServer)

	tok := e.srv.NewAdminToken()
	if tok == nil {
		t.Fatal("no admin token on first start")
	}
	if e.admin, err = adminclient.New(adminclient.Config{Addr: e.srv.Addr(), Token: adminclient.NewToken(tok.Reveal()),
		Roots: e.srv.CA().X509Authorities(), TrustDomain: "example.org"}); err != nil {
		t.Fatal(err)
	}

	jt, err := e.srv.Nodes().CreateJoinToken(t.Context(), audit.Actor{Kind: "system", ID: "e2e-test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Unix socket paths must stay under about 100 bytes.
	dir, err := os.MkdirTemp("", "k")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e.sock = filepath.Join(dir, "api.sock")
	dataDir := filepath.Join(dir, "d")
	if e.agent, err = agent.New(agent.Config{ServerURL: "https://" + e.srv.Addr(), JoinToken: agent.NewJoinToken(jt.Reveal()),
		SocketPath: e.sock, DataDir: dataDir, TrustBundle: e.srv.CA().X509Authorities(), Logger: e2eLogger(t)}); err != nil {
		t.Fatal(err)
	}
	adone := runUntilCleanup(t, "agent", e.agent.Run)
	select {
	case <-e.agent.Ready():
	case err := <-adone:
		t.Fatalf("agent stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("agent not ready")
	}

	if e.view, err = dataplane.New(dataplane.Config{SocketPath: filepath.Join(dataDir, "private", "dataplane.sock"),
		Logger: e2eLogger(t)}); err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "view", e.view.Run)
	select {
	case <-e.view.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("data-plane view not ready")
	}
	return e
}

// register registers path for this process's uid under the agent.
func (e *e2eEnv) register(t *testing.T, path string) spiffeid.ID {
	t.Helper()
	id := spiffeid.RequireFromPath(e.srv.TrustDomain(), path)
	_, err := e.srv.Registry().Create(t.Context(), audit.Actor{Kind: "system", ID: "e2e-test"}, registry.Spec{
		SPIFFEID: id.String(), ParentID: e.agent.SPIFFEID().String(),
		Selectors: []string{"unix:uid:" + strconv.Itoa(os.Getuid())}, Owner: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// source returns an X509 source of the agent's Workload API that serves
// the SVID of id (this process matches several entries).
func (e *e2eEnv) source(t *testing.T, id spiffeid.ID) *workloadapi.X509Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	src, err := workloadapi.NewX509Source(ctx,
		workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+e.sock)),
		workloadapi.WithDefaultX509SVIDPicker(func(svids []*x509svid.SVID) *x509svid.SVID {
			for _, s := range svids {
				if s.ID == id {
					return s
				}
			}
			return svids[0]
		}))
	if err != nil {
		t.Fatalf("X509 source for %s: %v", id, err)
	}
	t.Cleanup(func() { src.Close() })
	// The entry may reach the agent after the first update.
	await.Until(t, "the SVID of "+id.String(), 30*time.Second, src.Updated, func() bool {
		s, err := src.GetX509SVID()
		return err == nil && s.ID == id
	})
	return src
}

// applyPolicies applies docs through the admin API and waits until the
// view's engine has the new revision.
func (e *e2eEnv) applyPolicies(t *testing.T, docs ...policy.Document) {
	t.Helper()
	raws := make([]json.RawMessage, 0, len(docs))
	for _, d := range docs {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, b)
	}
	res, err := e.admin.ApplyPolicies(t.Context(), raws)
	if err != nil {
		t.Fatal(err)
	}
	await.Until(t, "policy revision "+strconv.FormatInt(res.Revision, 10)+" in the view", 30*time.Second, e.view.Changed, func() bool {
		return e.view.PolicyEngine().Revision() >= res.Revision
	})
}

// listen returns a loopback listener on a free port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestEndToEnd runs the whole data path on loopback: a real server and
// agent, an outbound proxy for orders, an inbound proxy for payments fed
// by the agent's data-plane feed, and an upstream. It checks an allowed
// call, a call the policy denies, a caller without a client certificate,
// and that after the server stops the proxies keep enforcing what they
// have (static stability), on new connections too.
//
// Calls carry no access token: mTLS and identity policy only.
func TestEndToEnd(t *testing.T) {
	e := newE2EEnv(t)
	ordersID := e.register(t, "/orders")
	paymentsID := e.register(t, "/payments")
	e.applyPolicies(t, policy.Document{Name: "payments", Target: paymentsID.String(), Rules: []policy.Rule{{
		Name: "charge", From: policy.From{SPIFFEIDs: []string{ordersID.String()}},
		To: policy.To{Methods: []string{"GET"}, Paths: []string{"/charge/*"}}, Action: policy.ActionAllow,
	}}})
	ordersSrc := e.source(t, ordersID)
	paymentsSrc := e.source(t, paymentsID)

	var hits sync.Map // path -> caller header the upstream saw
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, r.Header.Get(proxy.HeaderCallerSPIFFEID))
		io.WriteString(w, "charged")
	}))
	t.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)

	enf, err := enforce.New(enforce.Config{Target: paymentsID, Bundles: e.view, Revocations: e.view,
		Policy: e.view.PolicyEngine(), Issuer: e.view.Issuer(), Keys: e.view})
	if err != nil {
		t.Fatal(err)
	}
	in, err := proxy.NewInbound(proxy.InboundConfig{Listener: listen(t), Upstream: upURL, Enforcer: enf, SVID: paymentsSrc,
		Logger: e2eLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "inbound", in.Run)
	newOutbound := func() string {
		out, err := proxy.NewOutbound(proxy.OutboundConfig{Listener: listen(t), Destination: in.Addr().String(),
			DestinationID: paymentsID, SVID: ordersSrc, Bundles: e.view, Revocations: e.view, Logger: e2eLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		runUntilCleanup(t, "outbound", out.Run)
		return "http://" + out.Addr().String()
	}
	outURL := newOutbound()

	get := func(t *testing.T, method, u string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	allowed := func(t *testing.T, base, path string) {
		t.Helper()
		code, _, body := get(t, http.MethodGet, base+path)
		if code != http.StatusOK || body != "charged" {
			t.Fatalf("GET %s = %d %q, want 200 charged", path, code, body)
		}
		caller, ok := hits.Load(path)
		if !ok || caller != ordersID.String() {
			t.Errorf("upstream saw %s = %v (reached: %v), want %s", proxy.HeaderCallerSPIFFEID, caller, ok, ordersID)
		}
	}
	denied := func(t *testing.T, base, method, path string) {
		t.Helper()
		code, ctype, body := get(t, method, base+path)
		var problem struct {
			Status int `json:"status"`
		}
		if code != http.StatusForbidden || ctype != "application/problem+json" ||
			json.Unmarshal([]byte(body), &problem) != nil || problem.Status != http.StatusForbidden {
			t.Errorf("%s %s = %d %s %q, want 403 problem JSON", method, path, code, ctype, body)
		}
		if _, ok := hits.Load(path); ok {
			t.Errorf("%s %s reached the upstream", method, path)
		}
	}

	t.Run("allowed", func(t *testing.T) { allowed(t, outURL, "/charge/1") })
	t.Run("denied path", func(t *testing.T) { denied(t, outURL, http.MethodGet, "/refund/1") })
	t.Run("denied method", func(t *testing.T) { denied(t, outURL, http.MethodPost, "/charge/2") })
	t.Run("no client certificate", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: tlsconfig.TLSClientConfig(e.view, tlsconfig.AuthorizeID(paymentsID))}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("https://" + in.Addr().String() + "/charge/3")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.StatusCode)
		}
		if _, ok := hits.Load("/charge/3"); ok {
			t.Error("a caller without a certificate reached the upstream")
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		// A self-made chain: the TLS handshake completes (the proxy asks
		// for, but verifies outside TLS), and the call is refused.
		self := selfSigned(t, ordersID)
		tr := &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{self},
			InsecureSkipVerify: true}} //nolint:gosec // the test checks the server side only
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("https://" + in.Addr().String() + "/charge/4")
		if err != nil {
			return // refusing the handshake is also a refusal
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 401 or 403", resp.StatusCode)
		}
		if _, ok := hits.Load("/charge/4"); ok {
			t.Error("an untrusted certificate reached the upstream")
		}
	})

	// Static stability: with the server gone, the agent and the view keep
	// serving what they hold, and the proxies keep enforcing it, also on
	// new connections (a fresh outbound proxy).
	e.stopServer()
	if _, err := e.admin.GetPolicies(t.Context()); err == nil {
		t.Fatal("the server still answers after it stopped")
	}
	t.Run("server stopped", func(t *testing.T) {
		allowed(t, outURL, "/charge/5")
		denied(t, outURL, http.MethodGet, "/refund/5")
		fresh := newOutbound()
		allowed(t, fresh, "/charge/6")
		denied(t, fresh, http.MethodGet, "/refund/6")
	})
}

// selfSigned returns a self-signed certificate claiming id, which no
// trust bundle vouches for.
func selfSigned(t *testing.T, id spiffeid.ID) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), URIs: []*url.URL{id.URL()},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
