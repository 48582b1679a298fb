// Package adminclienttest provides a throwaway certificate authority and TLS
// test servers that present SPIFFE server certificates, for testing clients
// of the admin API. It is for tests only and holds no admin API logic.
package adminclienttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// CA is a test certificate authority for one trust domain.
type CA struct {
	// TrustDomain is the CA's trust domain.
	TrustDomain spiffeid.TrustDomain
	// Cert is the self-signed root certificate.
	Cert *x509.Certificate
	key  crypto.Signer
}

// NewCA returns a CA for the trust domain td, such as "example.org". It
// fails tb on error.
func NewCA(tb testing.TB, td string) *CA {
	tb.Helper()
	trustDomain, err := spiffeid.TrustDomainFromString(td)
	if err != nil {
		tb.Fatalf("adminclienttest: trust domain: %v", err)
	}
	key := newKey(tb)
	serial, err := newSerial()
	if err != nil {
		tb.Fatalf("adminclienttest: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Kith test"}, CommonName: "test CA " + td},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                  []*url.URL{trustDomain.ID().URL()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatalf("adminclienttest: create CA: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("adminclienttest: parse CA: %v", err)
	}
	return &CA{TrustDomain: trustDomain, Cert: cert, key: key}
}

// Sign returns the DER of an X509-SVID for id (a SPIFFE ID string) and pub,
// valid for ttl (an hour if zero), with optional DNS names. It returns an
// error if id is not a SPIFFE ID.
func (ca *CA) Sign(id string, pub crypto.PublicKey, ttl time.Duration, dnsNames ...string) ([]byte, error) {
	sid, err := spiffeid.FromString(id)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if ttl == 0 {
		ttl = time.Hour
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(ttl),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{sid.URL()},
		DNSNames:              dnsNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return der, nil
}

// BundlePEM returns the CA certificate in PEM.
func (ca *CA) BundlePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// BundleJSON returns the CA's SPIFFE bundle (JWKS) document. It fails tb on
// error.
func (ca *CA) BundleJSON(tb testing.TB) []byte {
	tb.Helper()
	b, err := spiffebundle.FromX509Authorities(ca.TrustDomain, []*x509.Certificate{ca.Cert}).Marshal()
	if err != nil {
		tb.Fatalf("adminclienttest: marshal bundle: %v", err)
	}
	return b
}

// newKey returns a fresh P-256 key.
func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("adminclienttest: generate key: %v", err)
	}
	return key
}

// newSerial returns a random 127-bit certificate serial number.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	return n, nil
}
