package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/federation"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// webPKI writes a test Web PKI root and a leaf for 127.0.0.1 into dir and
// returns the root pool and the leaf's file names.
func webPKI(t testing.TB, dir string) (*x509.CertPool, string, string) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test web root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "bundle endpoint"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	certFile, keyFile := filepath.Join(dir, "web.pem"), filepath.Join(dir, "web-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return pool, certFile, keyFile
}

// TestHTTPSWebBundleEndpoint serves the bundle on a second listener with a
// Web PKI certificate and fetches it with go-spiffe's federation client
// using the https_web profile.
func TestHTTPSWebBundleEndpoint(t *testing.T) {
	pool, certFile, keyFile := webPKI(t, t.TempDir())
	ts := startServer(t, "example.org", func(c *Config) {
		c.BundleEndpointAddr = "127.0.0.1:0"
		c.BundleEndpointCertFile = certFile
		c.BundleEndpointKeyFile = keyFile
	})
	td := spiffeid.RequireTrustDomainFromString("example.org")
	got, err := federation.FetchBundle(t.Context(), td, "https://"+ts.BundleEndpointAddr(), federation.WithWebPKIRoots(pool))
	if err != nil {
		t.Fatalf("fetch https_web bundle: %v", err)
	}
	if !got.Equal(ts.CA().Bundle()) {
		t.Error("https_web endpoint served a bundle other than the CA's")
	}
	// Only the bundle is served there: no admin API on the public listener.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + ts.BundleEndpointAddr() + "/v1/entries")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := spiffebundle.Parse(td, body); err == nil && resp.StatusCode == http.StatusOK {
		// go-spiffe's handler answers every path with the bundle; that is
		// fine as long as nothing else is reachable.
		return
	}
	if resp.StatusCode == http.StatusOK {
		t.Errorf("https_web listener served something other than the bundle at /v1/entries: %s", body)
	}
}
