package authn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/ca/catest"
	"github.com/kith-dev/kith/internal/revocation"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

func newCA(t testing.TB) *ca.CA { return catest.New(t, td) }

func mint(t testing.TB, c *ca.CA, path string) *x509svid.SVID {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.MintX509SVID(t.Context(), ca.X509Params{CSR: csr, SPIFFEID: spiffeid.RequireFromPath(td, path)})
	if err != nil {
		t.Fatal(err)
	}
	return &x509svid.SVID{ID: s.ID, Certificates: s.Certificates, PrivateKey: key}
}

func newSet(t testing.TB) *revocation.Set {
	t.Helper()
	s, err := revocation.New(t.Context(), revocation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// handshake runs a mutual TLS handshake between a go-spiffe client holding
// client and a go-spiffe server whose authorizer is authn.Authorizer, and
// returns the server's error.
func handshake(t *testing.T, bundle *spiffebundle.Bundle, server, client *x509svid.SVID, rev authn.RevocationChecker) error {
	t.Helper()
	sc := tlsconfig.MTLSServerConfig(server, bundle, authn.Authorizer(rev, tlsconfig.AuthorizeMemberOf(td)))
	cc := tlsconfig.MTLSClientConfig(client, bundle, tlsconfig.AuthorizeID(server.ID))
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errc := make(chan error, 1)
	go func() {
		c := tls.Client(a, cc)
		err := c.Handshake()
		if err == nil {
			// TLS 1.3 clients learn of a refused certificate on the first read.
			_, err = c.Read(make([]byte, 1))
		}
		a.Close()
		errc <- err
	}()
	s := tls.Server(b, sc)
	err := s.Handshake()
	if err == nil {
		s.Write([]byte{1})
	}
	b.Close()
	<-errc
	return err
}

// TestAuthorizerRevocation accepts an SVID, then refuses the same SVID,
// unexpired, once the revocation set covers it.
func TestAuthorizerRevocation(t *testing.T) {
	c := newCA(t)
	bundle := c.Bundle()
	server := mint(t, c, "/server")
	leaf := mint(t, c, "/client")
	cert := leaf.Certificates[0]
	serial := cert.SerialNumber
	tests := []struct {
		name    string
		revoke  []revocation.Entry
		revoked bool
	}{
		{"nothing revoked", nil, false},
		{"serial", []revocation.Entry{{Kind: revocation.KindX509Serial, Value: serial.Text(16)}}, true},
		{"serial as DER bytes", []revocation.Entry{{Kind: revocation.KindX509Serial, Value: fmt.Sprintf("%x", serial.Bytes())}}, true},
		{"SPIFFE ID now", []revocation.Entry{{Kind: revocation.KindSPIFFEID, Value: leaf.ID.String()}}, true},
		{"SPIFFE ID at NotBefore", []revocation.Entry{{Kind: revocation.KindSPIFFEID, Value: leaf.ID.String(), RevokedAt: cert.NotBefore}}, true},
		{"SPIFFE ID before issuance", []revocation.Entry{{Kind: revocation.KindSPIFFEID, Value: leaf.ID.String(), RevokedAt: cert.NotBefore.Add(-time.Second)}}, false},
		{"another SPIFFE ID", []revocation.Entry{{Kind: revocation.KindSPIFFEID, Value: "spiffe://example.org/other"}}, false},
		{"a JWT ID", []revocation.Entry{{Kind: revocation.KindJTI, Value: serial.Text(16)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := newSet(t)
			if err := handshake(t, bundle, server, leaf, set); err != nil {
				t.Fatalf("before revocation: %v", err)
			}
			for i, e := range tt.revoke {
				if e.RevokedAt.IsZero() {
					e.RevokedAt = time.Now()
				}
				e.Revision = int64(i + 1)
				set.Apply(e)
			}
			err := handshake(t, bundle, server, leaf, set)
			if got := errors.Is(err, authn.ErrRevoked); got != tt.revoked {
				t.Errorf("after revocation: err = %v, revoked = %v, want %v", err, got, tt.revoked)
			}
			if tt.revoked && time.Now().After(cert.NotAfter) {
				t.Error("the SVID expired; the test proves nothing")
			}
		})
	}
}

// TestAuthorizerDefers passes an unrevoked chain to the next authorizer.
func TestAuthorizerDefers(t *testing.T) {
	c := newCA(t)
	leaf := mint(t, c, "/client")
	refuse := errors.New("not you")
	auth := authn.Authorizer(newSet(t), func(spiffeid.ID, [][]*x509.Certificate) error { return refuse })
	if err := auth(leaf.ID, [][]*x509.Certificate{leaf.Certificates}); !errors.Is(err, refuse) {
		t.Errorf("Authorizer = %v, want the next authorizer's error", err)
	}
	if err := authn.Authorizer(nil, nil)(leaf.ID, [][]*x509.Certificate{leaf.Certificates}); err != nil {
		t.Errorf("Authorizer(nil, nil) = %v, want nil", err)
	}
	if err := authn.Authorizer(nil, nil)(leaf.ID, nil); err == nil {
		t.Error("Authorizer without a chain accepted it")
	}
}
