package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/ca"
)

// serverID is the SPIFFE ID of the control plane in trust domain td.
func serverID(td spiffeid.TrustDomain) spiffeid.ID {
	return spiffeid.RequireFromPath(td, "/kith/server")
}

// servingSVID holds the server's own X509-SVID, the certificate of its
// HTTPS listener, and renews it at half its lifetime. Besides the SPIFFE
// ID it names the server's addresses and localhost (see serverNames), so
// that a Web PKI client holding the trust bundle, such as curl --cacert
// DATA/bundle.pem, verifies it too.
type servingSVID struct {
	ca     *ca.CA
	id     spiffeid.ID
	names  serverName
	clock  func() time.Time
	logger *slog.Logger
	cur    atomic.Pointer[servingCert]
}

type servingCert struct {
	cert      *tls.Certificate
	notBefore time.Time
	expiresAt time.Time
}

func newServingSVID(ctx context.Context, c *ca.CA, td spiffeid.TrustDomain, names serverName, clock func() time.Time, logger *slog.Logger) (*servingSVID, error) {
	s := &servingSVID{ca: c, id: serverID(td), names: names, clock: clock, logger: logger}
	if err := s.renew(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// renew mints a fresh SVID for a fresh key; the key never leaves memory.
func (s *servingSVID) renew(ctx context.Context) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return err
	}
	svid, err := s.ca.MintX509SVID(ctx, ca.X509Params{CSR: csr, SPIFFEID: s.id, DNSNames: s.names.dns, IPAddresses: s.names.ips})
	if err != nil {
		return fmt.Errorf("mint %s: %w", s.id, err)
	}
	cert := &tls.Certificate{PrivateKey: key, Leaf: svid.Certificates[0]}
	for _, c := range svid.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	s.cur.Store(&servingCert{cert: cert, notBefore: svid.Certificates[0].NotBefore, expiresAt: svid.ExpiresAt})
	s.logger.Debug("server svid renewed", "spiffe_id", s.id.String(), "expires_at", svid.ExpiresAt)
	return nil
}

// run renews the SVID at half its lifetime, retrying failures every 10s.
func (s *servingSVID) run(ctx context.Context) error {
	for {
		cur := s.cur.Load()
		wait := cur.notBefore.Add(cur.expiresAt.Sub(cur.notBefore) / 2).Sub(s.clock())
		t := time.NewTimer(max(wait, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := s.renew(ctx); err != nil {
			s.logger.Error("renew server svid", "error", err)
			t := time.NewTimer(10 * time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
}

// tlsConfig is the main listener's TLS configuration. It asks for a client
// certificate but does not require or verify one: agents and OAuth clients
// present X509-SVIDs, which the handlers verify against the trust bundle and
// the revocation set; admin callers present none.
func (s *servingSVID) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequestClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cur.Load().cert, nil
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
}

// webTLSConfig loads the Web PKI certificate of the https_web bundle
// endpoint.
func webTLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("bundle endpoint certificate: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
