package proxy_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/server"
)

// TestQuarantineStopsTokensEndToEnd runs a real server, agent and inbound
// proxy. The web workload calls payments over mTLS with access tokens of
// the orders client. When orders' entry is quarantined, the server
// refuses the very next token request, and the proxy refuses every token
// of orders' client — including one obtained in the race window, issued
// after the quarantine's cut-off by a server that still read the entry as
// active (here: issued while the server's clock ran 10 s ahead, which to
// the proxy is the same as a token issued 10 s after the quarantine, by a
// replica that had not heard of it). A token of another client still
// passes.
func TestQuarantineStopsTokensEndToEnd(t *testing.T) {
	var ahead atomic.Int64 // how far the server's clock runs ahead, in ns
	e := newE2EEnv(t, func(c *server.Config) {
		c.Clock = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	})
	ordersID := e.register(t, "/orders")
	webID := e.register(t, "/web")
	paymentsID := e.register(t, "/payments")
	e.applyPolicies(t, policy.Document{Name: "payments", Target: paymentsID.String(), Rules: []policy.Rule{{
		Name: "charge", From: policy.From{SPIFFEIDs: []string{webID.String()}},
		To: policy.To{Methods: []string{"GET"}, Paths: []string{"/charge/*"}}, Action: policy.ActionAllow,
	}}})
	webSrc, paymentsSrc := e.source(t, webID), e.source(t, paymentsID)
	clientOf := func(path string) *api.ClientSecret {
		t.Helper()
		es, err := e.srv.Registry().FindBySPIFFEID(t.Context(), mustID("spiffe://example.org"+path))
		if err != nil || len(es) != 1 {
			t.Fatalf("entry of %s: %v %v", path, es, err)
		}
		cs, err := e.admin.CreateClient(t.Context(), api.ClientCreate{EntryID: es[0].ID, Audiences: []string{paymentsID.String()}})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	orders, web := clientOf("/orders"), clientOf("/web")

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "charged") }))
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

	roots := x509.NewCertPool()
	for _, c := range e.srv.CA().X509Authorities() {
		roots.AddCert(c)
	}
	tokenClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	t.Cleanup(tokenClient.CloseIdleConnections)
	token := func(cs *api.ClientSecret) (int, string) {
		t.Helper()
		r, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://"+e.srv.Addr()+"/oauth2/token",
			strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(cs.Client.ID, cs.Secret)
		resp, err := tokenClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.AccessToken
	}
	mustToken := func(cs *api.ClientSecret) string {
		t.Helper()
		code, tok := token(cs)
		if code != http.StatusOK {
			t.Fatalf("token request: %d", code)
		}
		return tok
	}
	callTransport := &http.Transport{TLSClientConfig: tlsconfig.MTLSClientConfig(webSrc, e.view, tlsconfig.AuthorizeID(paymentsID))}
	t.Cleanup(callTransport.CloseIdleConnections)
	call := func(tok string) (int, enforce.Reason) {
		t.Helper()
		r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+in.Addr().String()+"/charge/1", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		resp, err := (&http.Client{Transport: callTransport, Timeout: 10 * time.Second}).Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p struct {
			Reason enforce.Reason `json:"reason"`
		}
		json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p.Reason
	}

	ahead.Store(int64(10 * time.Second))
	race := mustToken(orders)
	ahead.Store(0)
	before := mustToken(orders) // the server reads orders' entry as active again
	other := mustToken(web)
	for name, tok := range map[string]string{"before": before, "race window": race, "other client": other} {
		if code, reason := call(tok); code != http.StatusOK {
			t.Fatalf("%s token before the quarantine: %d %s", name, code, reason)
		}
	}

	ordersEntry, err := e.srv.Registry().FindBySPIFFEID(t.Context(), ordersID)
	if err != nil || len(ordersEntry) != 1 {
		t.Fatalf("entry of orders: %v", err)
	}
	if _, err := e.admin.QuarantineEntry(t.Context(), ordersEntry[0].ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := token(orders); code != http.StatusUnauthorized {
		t.Errorf("the token request right after the quarantine: %d, want 401", code)
	}
	// The revocation set reaches the proxy's view through the agent.
	await.Until(t, "the proxy to refuse orders' tokens", 30*time.Second, e.view.Changed, func() bool {
		c1, r1 := call(before)
		c2, r2 := call(race)
		return c1 == http.StatusUnauthorized && r1 == enforce.ReasonRevokedToken &&
			c2 == http.StatusUnauthorized && r2 == enforce.ReasonRevokedToken
	})
	if code, reason := call(other); code != http.StatusOK {
		t.Errorf("another client's token after the quarantine: %d %s, want 200", code, reason)
	}
}
