package proxy_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/kith-dev/kith/internal/proxy/proxytest"
)

// BenchmarkInboundProxy compares a call through the inbound proxy (mTLS
// with a kept-alive connection, SVID verification, token verification,
// policy, telemetry, forwarding over HTTP/1.1) with a call over mTLS
// straight to an equivalent TLS server (HTTP/1.1); the difference is the
// added latency. "proxy" lets the client negotiate HTTP/2 with the proxy,
// "proxy-http1" keeps to HTTP/1.1 like "direct".
func BenchmarkInboundProxy(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	h := newHarness(b, ok, false)
	svid := h.env.SVID(orders)
	tok := h.env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders", Scope: "read", BindCert: svid.Certificates[0]}, target.String(), proxytest.SignGood)

	direct := httptest.NewUnstartedServer(ok)
	direct.TLS = tlsconfig.MTLSServerConfig(h.server, h.env.Bundles, tlsconfig.AuthorizeAny())
	cert := tls.Certificate{PrivateKey: h.server.PrivateKey}
	for _, c := range h.server.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	direct.TLS.Certificates = []tls.Certificate{cert} // httptest ignores GetCertificate
	direct.StartTLS()
	b.Cleanup(direct.Close)

	bench := func(b *testing.B, url string, h1 bool) {
		cl := h.client(svid)
		if h1 {
			tr := cl.Transport.(*http.Transport)
			tr.ForceAttemptHTTP2 = false
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := cl.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	b.Run("direct", func(b *testing.B) { bench(b, direct.URL+"/api/x", true) })
	b.Run("proxy", func(b *testing.B) { bench(b, h.url+"/api/x", false) })
	b.Run("proxy-http1", func(b *testing.B) { bench(b, h.url+"/api/x", true) })
}
