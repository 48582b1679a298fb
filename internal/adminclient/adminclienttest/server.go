package adminclienttest

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
)

// NewTLSServer starts an httptest server for h whose TLS certificate is an
// X509-SVID for id (such as "spiffe://example.org/kith/server") signed by
// ca, and no DNS or IP name. The server is closed when the test ends; its
// Listener.Addr gives the host:port to dial.
func NewTLSServer(tb testing.TB, ca *CA, id string, h http.Handler) *httptest.Server {
	tb.Helper()
	key := newKey(tb)
	der, err := ca.Sign(id, key.Public(), 0)
	if err != nil {
		tb.Fatalf("adminclienttest: server certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("adminclienttest: server certificate: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
	}
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return srv
}
