package kithhttp_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy/proxytest"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/sdk/kithhttp"
)

// TestRevokedConnectionDropped checks that the middleware's refusal of a
// revoked client certificate also drops the connection it came over
// (HTTP/1.1: closed after the answer; HTTP/2: GOAWAY), so that the
// caller's next call opens a new connection, with its current
// certificate, instead of being refused on the old one again.
func TestRevokedConnectionDropped(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			env := proxytest.New(t, policy.Document{Name: "p", Target: target.String(), Rules: []policy.Rule{
				{From: policy.From{SPIFFEIDs: []string{orders.String()}}, Action: policy.ActionAllow},
			}})
			enf, err := enforce.New(enforce.Config{Target: target, Bundles: env.Bundles, Revocations: env.Revocations, Policy: env.Engine})
			if err != nil {
				t.Fatal(err)
			}
			mw, err := kithhttp.New(kithhttp.Config{Enforcer: enf})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			})))
			server := env.SVID(target)
			cert := tls.Certificate{PrivateKey: server.PrivateKey}
			for _, c := range server.Certificates {
				cert.Certificate = append(cert.Certificate, c.Raw)
			}
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			t.Cleanup(srv.Close)

			caller := env.SVID(orders)
			tr := &http.Transport{TLSClientConfig: tlsconfig.MTLSClientConfig(caller, env.Bundles, tlsconfig.AuthorizeID(target)),
				ForceAttemptHTTP2: true}
			t.Cleanup(tr.CloseIdleConnections)
			call := func() (int, bool) {
				t.Helper()
				reused := false
				trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, srv.URL+"/a", nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode, reused
			}
			if st, _ := call(); st != http.StatusOK {
				t.Fatalf("before the revocation: %d", st)
			}
			env.Revoke(revocation.KindX509Serial, caller.Certificates[0].SerialNumber.Text(16))
			if st, reused := call(); st != http.StatusUnauthorized || !reused {
				t.Fatalf("after the revocation: %d (reused %v), want 401 on the kept connection", st, reused)
			}
			if _, reused := call(); reused {
				t.Error("the call after the refusal reused the connection of the revoked certificate")
			}
		})
	}
}
