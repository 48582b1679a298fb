package kithhttp_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/proxy/proxytest"
	"github.com/kith-dev/kith/sdk/kithhttp"
)

var (
	target = spiffeid.RequireFromPath(proxytest.Own, "/payments")
	orders = spiffeid.RequireFromPath(proxytest.Own, "/orders")
	other  = spiffeid.RequireFromPath(proxytest.Own, "/other")
	evil   = spiffeid.RequireFromPath(proxytest.Evil, "/orders")
)

// TestSamePath sends the same calls to a service behind the inbound proxy
// and to one guarded by the middleware, both built on one Enforcer, and
// wants the same answers: one request path, not two.
func TestSamePath(t *testing.T) {
	env := proxytest.New(t, policy.Document{Name: "p", Target: target.String(), Rules: []policy.Rule{
		{From: policy.From{SPIFFEIDs: []string{orders.String()}}, To: policy.To{Paths: []string{"/api/*"}}, Action: policy.ActionAllow},
		{From: policy.From{SPIFFEIDs: []string{orders.String()}}, To: policy.To{Paths: []string{"/r"}}, Action: policy.ActionRestrict, Scopes: []string{"read"}},
		{To: policy.To{Paths: []string{"/admin"}}, Action: policy.ActionStepUp, StepUp: &policy.StepUp{ACR: []string{"urn:kith:acr:svid"}}},
	}})
	enf, err := enforce.New(enforce.Config{Target: target, Bundles: env.Bundles, Revocations: env.Revocations, Policy: env.Engine,
		Issuer: proxytest.Issuer, Keys: env.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	server := env.SVID(target)
	// The service answers with what it knows of its caller.
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := kithhttp.CallerFromContext(r.Context()); ok {
			io.WriteString(w, c.SPIFFEID.String()+" "+c.Decision+" "+strings.Join(c.Scopes, ","))
			return
		}
		io.WriteString(w, r.Header.Get(proxy.HeaderCallerSPIFFEID)+" "+r.Header.Get(proxy.HeaderDecision)+" "+r.Header.Get(proxy.HeaderScopes))
	})

	mw, err := kithhttp.New(kithhttp.Config{Enforcer: enf})
	if err != nil {
		t.Fatal(err)
	}
	direct := httptest.NewUnstartedServer(mw.Handler(app))
	direct.TLS = tlsconfig.TLSServerConfig(server)
	direct.TLS.ClientAuth = tls.RequestClientCert
	cert := tls.Certificate{PrivateKey: server.PrivateKey}
	for _, c := range server.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	direct.TLS.Certificates = []tls.Certificate{cert} // httptest ignores GetCertificate
	direct.StartTLS()
	t.Cleanup(direct.Close)

	up := httptest.NewServer(app)
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	in, err := proxy.NewInbound(proxy.InboundConfig{Listener: ln, Upstream: u, Enforcer: enf, SVID: server})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	tok := func(scope, acr string) string {
		return env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci", Scope: scope, ACR: acr}, target.String(), proxytest.SignGood)
	}
	tests := []struct {
		name  string
		svid  *x509svid.SVID
		path  string
		token string
		want  string // the start of the answer
	}{
		{"allowed", env.SVID(orders), "/api/a", "", "200 OK  spiffe://example.org/orders allow"},
		{"default deny", env.SVID(other), "/api/a", "", "403 Forbidden"},
		{"no certificate", nil, "/api/a", "", "401 Unauthorized"},
		{"untrusted", env.SVID(evil), "/api/a", "", "401 Unauthorized"},
		{"restricted", env.SVID(orders), "/r", tok("read write", ""), "200 OK  spiffe://example.org/orders restrict read"},
		{"bad token", env.SVID(orders), "/api/a", "garbage", "401 Unauthorized Bearer"},
		{"step-up", env.SVID(orders), "/admin", tok("", "urn:kith:acr:secret"), "401 Unauthorized Bearer error=\"insufficient_user_authentication\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var answers [2]string
			for i, base := range []string{direct.URL, "https://" + in.Addr().String()} {
				c := tlsconfig.TLSClientConfig(env.Bundles, tlsconfig.AuthorizeID(target))
				if tt.svid != nil {
					c = tlsconfig.MTLSClientConfig(tt.svid, env.Bundles, tlsconfig.AuthorizeID(target))
				}
				tr := &http.Transport{TLSClientConfig: c}
				defer tr.CloseIdleConnections()
				req, _ := http.NewRequest("GET", base+tt.path, nil)
				if tt.token != "" {
					req.Header.Set("Authorization", "Bearer "+tt.token)
				}
				resp, err := (&http.Client{Transport: tr}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				answers[i] = resp.Status + " " + resp.Header.Get("WWW-Authenticate") + " " + strings.TrimSpace(string(b))
			}
			if !strings.HasPrefix(answers[0], tt.want) {
				t.Errorf("middleware answered %q, want %q…", answers[0], tt.want)
			}
			if answers[0] != answers[1] {
				t.Errorf("middleware and proxy differ:\nmiddleware: %s\nproxy:      %s", answers[0], answers[1])
			}
		})
	}
}
