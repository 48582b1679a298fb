package proxy_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/proxy/proxytest"
)

var (
	target   = spiffeid.RequireFromPath(proxytest.Own, "/payments")
	orders   = spiffeid.RequireFromPath(proxytest.Own, "/orders")
	badActor = spiffeid.RequireFromPath(proxytest.Own, "/bad-actor")
	partner  = spiffeid.RequireFromPath(proxytest.Partner, "/shop")
	evil     = spiffeid.RequireFromPath(proxytest.Evil, "/orders")
)

// policies protect target with one rule per action.
func policies() []policy.Document {
	callers := policy.From{SPIFFEIDs: []string{orders.String(), badActor.String(), "spiffe://partner.example/**"}}
	return []policy.Document{{Name: "payments", Target: target.String(), Rules: []policy.Rule{
		{Name: "api", From: callers, To: policy.To{Paths: []string{"/api/*", "/admin", "/grpc.health.v1.Health/*"}}, Action: policy.ActionAllow},
		{Name: "tcp", From: callers, To: policy.To{Methods: []string{"CONNECT"}}, Action: policy.ActionAllow},
		{Name: "audit", From: callers, To: policy.To{Paths: []string{"/audit"}}, Action: policy.ActionAudit},
		{Name: "limited", From: callers, To: policy.To{Paths: []string{"/limited"}}, Action: policy.ActionRateLimit, RateLimit: &policy.RateLimit{RPS: 0.01, Burst: 1}},
		{Name: "restricted", From: callers, To: policy.To{Paths: []string{"/restricted"}}, Action: policy.ActionRestrict, Scopes: []string{"read"}},
		{Name: "admin", To: policy.To{Paths: []string{"/admin"}}, Action: policy.ActionStepUp, StepUp: &policy.StepUp{ACR: []string{"urn:kith:acr:svid"}}},
		{Name: "deny", To: policy.To{Paths: []string{"/deny"}}, Action: policy.ActionDeny},
		{Name: "quarantine", From: policy.From{SPIFFEIDs: []string{badActor.String()}}, Action: policy.ActionQuarantine},
	}}}
}

// recorder keeps the records of a Telemetry.
type recorder struct {
	mu   sync.Mutex
	recs []callrecord.Record
}

func (r *recorder) Record(rec callrecord.Record) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
}

func (r *recorder) last() callrecord.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		return callrecord.Record{}
	}
	return r.recs[len(r.recs)-1]
}

// harness is an inbound proxy for target in front of an upstream that
// echoes the Kith-* headers it receives.
type harness struct {
	env    *proxytest.Env
	enf    *enforce.Enforcer
	server *x509svid.SVID
	url    string
	addr   string
	rec    *recorder
	tel    *proxy.Telemetry
	t      testing.TB
}

func newEnforcer(t testing.TB, env *proxytest.Env) *enforce.Enforcer {
	t.Helper()
	enf, err := enforce.New(enforce.Config{Target: target, Bundles: env.Bundles, Revocations: env.Revocations,
		Policy: env.Engine, Issuer: proxytest.Issuer, Keys: env.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	return enf
}

// echo answers with the Kith-* headers of the request, one per line.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	var lines []string
	for k, v := range r.Header {
		if strings.HasPrefix(k, "Kith-") {
			lines = append(lines, k+"="+strings.Join(v, ","))
		}
	}
	io.WriteString(w, strings.Join(lines, "\n"))
})

func newHarness(t testing.TB, upstream http.Handler, h2c bool) *harness {
	t.Helper()
	env := proxytest.New(t, policies()...)
	h := &harness{env: env, enf: newEnforcer(t, env), server: env.SVID(target), rec: &recorder{}, t: t}
	up := httptest.NewUnstartedServer(upstream)
	if h2c {
		up.Config.Protocols = new(http.Protocols)
		up.Config.Protocols.SetUnencryptedHTTP2(true)
	}
	up.Start()
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	var err error
	if h.tel, err = proxy.NewTelemetry(proxy.TelemetryConfig{Recorder: h.rec}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in, err := proxy.NewInbound(proxy.InboundConfig{Listener: ln, Upstream: u, H2C: h2c, Enforcer: h.enf, SVID: h.server, Telemetry: h.tel})
	if err != nil {
		t.Fatal(err)
	}
	run(t, in.Run)
	h.addr = in.Addr().String()
	h.url = "https://" + h.addr
	return h
}

// run runs fn until the test ends and waits for it.
func run(t testing.TB, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// client returns an HTTP client presenting svid (none when nil) that
// expects the server to be target.
func (h *harness) client(svid *x509svid.SVID) *http.Client {
	var c *tls.Config
	if svid == nil {
		c = tlsconfig.TLSClientConfig(h.env.Bundles, tlsconfig.AuthorizeID(target))
	} else {
		c = tlsconfig.MTLSClientConfig(svid, h.env.Bundles, tlsconfig.AuthorizeID(target))
	}
	tr := &http.Transport{TLSClientConfig: c, ForceAttemptHTTP2: true}
	h.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// newHarnessTo returns a harness sharing h's env whose inbound proxy
// forwards over h2c to upstream.
func newHarnessTo(t testing.TB, h *harness, upstream string) *harness {
	t.Helper()
	u, _ := url.Parse(upstream)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in, err := proxy.NewInbound(proxy.InboundConfig{Listener: ln, Upstream: u, H2C: true, Enforcer: h.enf, SVID: h.server, Telemetry: h.tel})
	if err != nil {
		t.Fatal(err)
	}
	run(t, in.Run)
	n := *h
	n.addr = in.Addr().String()
	n.url = "https://" + n.addr
	return &n
}

func mustID(s string) spiffeid.ID { return spiffeid.RequireFromString(s) }

func tlsDial(addr string, c *tls.Config) (*tls.Conn, error) { return tls.Dial("tcp", addr, c) }
