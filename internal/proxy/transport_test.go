package proxy_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/proxy/proxytest"
	"github.com/kith-dev/kith/internal/revocation"
)

// swapSVID is an X509-SVID source whose SVID the test replaces, as the
// Workload API does on rotation or after a revocation.
type swapSVID struct{ cur atomic.Pointer[x509svid.SVID] }

func newSwapSVID(s *x509svid.SVID) *swapSVID {
	src := &swapSVID{}
	src.cur.Store(s)
	return src
}

func (s *swapSVID) GetX509SVID() (*x509svid.SVID, error) { return s.cur.Load(), nil }

// certServer is a TLS server presenting the SVID of target that answers
// each call with the serial of the client certificate it came with.
func certServer(t *testing.T, env *proxytest.Env, h2 bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, r.TLS.PeerCertificates[0].SerialNumber.Text(16))
	}))
	svid := env.SVID(target)
	cert := tls.Certificate{PrivateKey: svid.PrivateKey}
	for _, c := range svid.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert}
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &calls
}

// callSerial calls url through rt and returns the serial the server saw,
// whether the connection was reused, and the protocol.
func callSerial(t *testing.T, rt http.RoundTripper, url string) (string, bool, string, error) {
	t.Helper()
	reused := false
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, url, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", reused, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), reused, resp.Proto, err
}

// closeIdle closes rt's idle connections when the test ends, as
// http.Client.CloseIdleConnections does.
func closeIdle(t *testing.T, rt http.RoundTripper) {
	if ci, ok := rt.(interface{ CloseIdleConnections() }); ok {
		t.Cleanup(ci.CloseIdleConnections)
	}
}

// TestTransportNewSVID checks that once the workload's SVID changes, the
// very next call goes out with the new certificate, over HTTP/1.1 (where
// the old connection sat idle in the pool) and HTTP/2 (where it would be
// picked for the next stream), and that the connection made with the
// old certificate is not used again.
func TestTransportNewSVID(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			env := proxytest.New(t, policies()...)
			srv, _ := certServer(t, env, h2)
			first, second := env.SVID(orders), env.SVID(orders)
			src := newSwapSVID(first)
			rt, err := proxy.NewTransport(proxy.TransportConfig{DestinationID: target, SVID: src, Bundles: env.Bundles})
			if err != nil {
				t.Fatal(err)
			}
			closeIdle(t, rt)
			wantProto := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]
			for i := range 2 {
				got, reused, proto, err := callSerial(t, rt, srv.URL+"/a")
				if err != nil || got != serial(first) || proto != wantProto {
					t.Fatalf("call %d with the first SVID: serial %q %s, %v; want %q %s", i, got, proto, err, serial(first), wantProto)
				}
				if i == 1 && !reused {
					t.Error("the second call with the same SVID did not reuse the connection")
				}
			}
			src.cur.Store(second)
			got, reused, _, err := callSerial(t, rt, srv.URL+"/b")
			if err != nil {
				t.Fatal(err)
			}
			if got != serial(second) || reused {
				t.Fatalf("the call after the SVID changed went out with serial %s (reused connection: %v), want the new SVID's %s on a new connection",
					got, reused, serial(second))
			}
			if got, reused, _, _ := callSerial(t, rt, srv.URL+"/c"); got != serial(second) || !reused {
				t.Errorf("the next call: serial %s, reused %v; want %s over the new connection", got, reused, serial(second))
			}
		})
	}
}

// TestTransportDropsRevokedDestination checks that a connection to a
// destination whose certificate is revoked after the handshake is not
// used again: the next call dials anew, and the handshake refuses the
// revoked certificate.
func TestTransportDropsRevokedDestination(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			env := proxytest.New(t, policies()...)
			srv, calls := certServer(t, env, h2)
			revs := newWatchedRevocations(env)
			rt, err := proxy.NewTransport(proxy.TransportConfig{DestinationID: target, SVID: env.SVID(orders), Bundles: env.Bundles,
				Revocations: revs})
			if err != nil {
				t.Fatal(err)
			}
			closeIdle(t, rt)
			if _, _, _, err := callSerial(t, rt, srv.URL+"/a"); err != nil {
				t.Fatal(err)
			}
			leaf := srv.TLS.Certificates[0].Certificate[0]
			cert, err := x509.ParseCertificate(leaf)
			if err != nil {
				t.Fatal(err)
			}
			revs.revoke(revocation.KindX509Serial, cert.SerialNumber.Text(16))
			_, reused, _, err := callSerial(t, rt, srv.URL+"/b")
			if err == nil || reused {
				t.Fatalf("a call to the revoked destination: reused %v, err %v; want a new connection refused at the handshake", reused, err)
			}
			if !strings.Contains(err.Error(), "revoked") {
				t.Errorf("error %v, want the handshake's refusal of a revoked certificate", err)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("the destination served %d calls, want 1 (the one before the revocation)", n)
			}
		})
	}
}
