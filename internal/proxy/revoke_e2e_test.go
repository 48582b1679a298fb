package proxy_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/registry"
)

// awaitChange waits until cond holds, checking it again each time the
// channel that changed returns is closed or ready (the change signal of
// what cond reads). It fails t after 30 seconds.
func awaitChange(t *testing.T, what string, changed func() <-chan struct{}, cond func() bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		ch := changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestRevokedCallerReconnects is `kith entry revoke` of a caller on a
// running server, agent and proxies: the caller's outbound proxy holds a
// connection to the callee's inbound proxy made with the SVID that the
// revocation covers, and the caller has a TCP tunnel open to the callee's
// TCP proxy. Once the revocation reaches the callee's data plane, the
// tunnel is cut; once the agent has minted the caller a new SVID, the
// very next call goes out with it and is allowed, instead of being
// refused with revoked_client_certificate over the old connection until
// it idles out.
func TestRevokedCallerReconnects(t *testing.T) {
	e := newE2EEnv(t)
	paymentsID := e.register(t, "/payments")
	ordersID := spiffeid.RequireFromPath(e.srv.TrustDomain(), "/orders")
	orders, err := e.srv.Registry().Create(t.Context(), audit.Actor{Kind: "system", ID: "e2e-test"}, registry.Spec{
		SPIFFEID: ordersID.String(), ParentID: e.agent.SPIFFEID().String(),
		Selectors: []string{"unix:uid:" + strconv.Itoa(os.Getuid())}, Owner: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	from := policy.From{SPIFFEIDs: []string{ordersID.String()}}
	e.applyPolicies(t, policy.Document{Name: "payments", Target: paymentsID.String(), Rules: []policy.Rule{
		{Name: "charge", From: from, To: policy.To{Methods: []string{"GET"}, Paths: []string{"/charge/*"}}, Action: policy.ActionAllow},
		{Name: "tunnel", From: from, To: policy.To{Methods: []string{"CONNECT"}}, Action: policy.ActionAllow},
	}})
	ordersSrc := e.source(t, ordersID)
	paymentsSrc := e.source(t, paymentsID)

	// The callee: an HTTP inbound proxy and a TCP proxy, both enforcing
	// from the agent's data plane.
	enf, err := enforce.New(enforce.Config{Target: paymentsID, Bundles: e.view, Revocations: e.view,
		Policy: e.view.PolicyEngine(), Issuer: e.view.Issuer(), Keys: e.view})
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "charged") }))
	t.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)
	in, err := proxy.NewInbound(proxy.InboundConfig{Listener: listen(t), Upstream: upURL, Enforcer: enf, SVID: paymentsSrc,
		Logger: e2eLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "inbound", in.Run)
	echo := listen(t)
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	tcp, err := proxy.NewTCP(proxy.TCPConfig{Listener: listen(t), Upstream: echo.Addr().String(), Enforcer: enf, SVID: paymentsSrc,
		Logger: e2eLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "tcp", tcp.Run)

	// The caller: an outbound proxy with its SVID from the Workload API.
	out, err := proxy.NewOutbound(proxy.OutboundConfig{Listener: listen(t), Destination: in.Addr().String(),
		DestinationID: paymentsID, SVID: ordersSrc, Bundles: e.view, Revocations: e.view, Logger: e2eLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "outbound", out.Run)
	outURL := "http://" + out.Addr().String()
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	call := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, outURL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i := range 2 {
		if st, body := call("/charge/" + strconv.Itoa(i)); st != http.StatusOK {
			t.Fatalf("call %d before the revocation: %d %s", i, st, body)
		}
	}
	old, err := ordersSrc.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	tunnel, err := tls.Dial("tcp", tcp.Addr().String(), tlsconfig.MTLSClientConfig(old, e.view, tlsconfig.AuthorizeID(paymentsID)))
	if err != nil {
		t.Fatal(err)
	}
	defer tunnel.Close()
	tr := bufio.NewReader(tunnel)
	io.WriteString(tunnel, "ping\n")
	if line, err := tr.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("tunnel before the revocation: %q, %v", line, err)
	}

	if _, err := e.admin.RevokeEntry(t.Context(), orders.ID); err != nil {
		t.Fatal(err)
	}
	revoked := func(leaf *x509.Certificate) bool {
		return e.view.IsRevoked("spiffe_id", ordersID.String(), leaf.NotBefore)
	}
	awaitChange(t, "the revocation in the callee's view", e.view.Changed, func() bool { return revoked(old.Certificates[0]) })
	waitClosed(t, "the revoked caller's TCP tunnel", tunnel, tr)

	var fresh *x509svid.SVID
	awaitChange(t, "a new SVID of orders, after the cut-off", ordersSrc.Updated, func() bool {
		s, err := ordersSrc.GetX509SVID()
		if err != nil || s.Certificates[0].SerialNumber.Cmp(old.Certificates[0].SerialNumber) == 0 || revoked(s.Certificates[0]) {
			return false
		}
		fresh = s
		return true
	})
	if st, body := call("/charge/after"); st != http.StatusOK {
		t.Fatalf("the first call with the new SVID (serial %s): %d %s, want 200",
			fresh.Certificates[0].SerialNumber.Text(16), st, body)
	}
}
