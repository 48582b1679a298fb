package ca

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

func TestMintX509SVID(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	key := newKey(t, "p256")
	id := mustID(t, "spiffe://example.org/ns/prod/sa/api")
	svid, err := c.MintX509SVID(context.Background(), X509Params{CSR: newCSR(t, key, nil), SPIFFEID: id})
	if err != nil {
		t.Fatal(err)
	}
	root := c.X509Authorities()[0]
	chain, err := verifyX509(t, svid, c.Bundle(), e.t0)
	if err != nil {
		t.Fatalf("go-spiffe rejects the SVID: %v", err)
	}
	if len(chain) != 2 || !chain[1].Equal(root) {
		t.Errorf("verified chain has %d certificates, want leaf and the bundle root", len(chain))
	}
	if len(svid.Certificates) != 1 {
		t.Errorf("SVID carries %d certificates, want the leaf only (the root is in the bundle)", len(svid.Certificates))
	}
	leaf := svid.Certificates[0]

	if got, err := x509svid.IDFromCert(leaf); err != nil || got != id {
		t.Errorf("IDFromCert = %v, %v; want %v", got, err, id)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.String() {
		t.Errorf("URI SANs = %v, want exactly [%v]", leaf.URIs, id)
	}
	if len(leaf.DNSNames)+len(leaf.EmailAddresses)+len(leaf.IPAddresses) != 0 {
		t.Errorf("unexpected SANs: %v %v %v", leaf.DNSNames, leaf.EmailAddresses, leaf.IPAddresses)
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Errorf("IsCA = %v, BasicConstraintsValid = %v; want false, true", leaf.IsCA, leaf.BasicConstraintsValid)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %b, want DigitalSignature only", leaf.KeyUsage)
	}
	if !extensionCritical(leaf, oidKeyUsage) {
		t.Error("KeyUsage extension is not critical")
	}
	if diff := cmp.Diff([]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage); diff != "" {
		t.Errorf("ExtKeyUsage (-want +got):\n%s", diff)
	}
	if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 128 || leaf.SerialNumber.Cmp(svid.SerialNumber) != 0 {
		t.Errorf("serial %v: want positive, at most 128 bits, equal to SerialNumber %v", leaf.SerialNumber, svid.SerialNumber)
	}
	if want := e.t0.Add(-certBackdate); !leaf.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", leaf.NotBefore, want)
	}
	if want := e.t0.Add(DefaultX509SVIDTTL); !leaf.NotAfter.Equal(want) || !svid.ExpiresAt.Equal(want) {
		t.Errorf("NotAfter = %v, ExpiresAt = %v; want %v", leaf.NotAfter, svid.ExpiresAt, want)
	}
	if len(leaf.AuthorityKeyId) == 0 || !cmp.Equal(leaf.AuthorityKeyId, root.SubjectKeyId) {
		t.Errorf("AuthorityKeyId = %x, want the CA's SubjectKeyId %x", leaf.AuthorityKeyId, root.SubjectKeyId)
	}
	spki, _ := x509.MarshalPKIXPublicKey(key.Public())
	wantSKI, _ := subjectKeyID(spki)
	if len(leaf.SubjectKeyId) != 20 || !cmp.Equal(leaf.SubjectKeyId, wantSKI) {
		t.Errorf("SubjectKeyId = %x, want %x", leaf.SubjectKeyId, wantSKI)
	}
	if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
		t.Error("leaf does not certify the CSR's key")
	}
	if svid.ID != id {
		t.Errorf("ID = %v, want %v", svid.ID, id)
	}

	other := spiffebundle.New(spiffeid.RequireTrustDomainFromString("example.org"))
	other.AddX509Authority(newOtherCA(t).X509Authorities()[0])
	if _, err := verifyX509(t, svid, other, e.t0); err == nil {
		t.Error("SVID verifies against an unrelated CA")
	}
}

func newOtherCA(t *testing.T) *CA {
	t.Helper()
	return newEnv(t).newCA(t)
}

func extensionCritical(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oid) {
			return ext.Critical
		}
	}
	return false
}

func TestMintX509SVIDIgnoresCSRContent(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	bc, _ := asn1.Marshal(struct{ IsCA bool }{true})
	tmpl := &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "evil"},
		DNSNames:       []string{"evil.example.com"},
		EmailAddresses: []string{"root@evil.example.com"},
		URIs:           []*url.URL{mustID(t, "spiffe://evil.org/x").URL(), mustID(t, "spiffe://example.org/admin").URL()},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: bc},
		},
	}
	id := mustID(t, "spiffe://example.org/workload")
	svid, err := c.MintX509SVID(context.Background(), X509Params{CSR: newCSR(t, newKey(t, "p256"), tmpl), SPIFFEID: id})
	if err != nil {
		t.Fatal(err)
	}
	leaf := svid.Certificates[0]
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.String() {
		t.Errorf("URI SANs = %v, want only %v", leaf.URIs, id)
	}
	if len(leaf.DNSNames)+len(leaf.EmailAddresses) != 0 {
		t.Errorf("CSR SANs copied: %v %v", leaf.DNSNames, leaf.EmailAddresses)
	}
	if leaf.Subject.CommonName != "" {
		t.Errorf("CSR subject copied: %v", leaf.Subject)
	}
	if leaf.IsCA {
		t.Error("leaf is a CA because the CSR asked")
	}
	if _, err := verifyX509(t, svid, c.Bundle(), e.t0); err != nil {
		t.Error(err)
	}
}

func TestMintX509SVIDDNSNames(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	names := []string{"api.example.com", "*.api.example.com", "api"}
	svid, err := c.MintX509SVID(context.Background(), X509Params{
		CSR: newCSR(t, newKey(t, "p256"), nil), SPIFFEID: mustID(t, "spiffe://example.org/api"), DNSNames: names,
	})
	if err != nil {
		t.Fatal(err)
	}
	leaf := svid.Certificates[0]
	if diff := cmp.Diff(names, leaf.DNSNames); diff != "" {
		t.Errorf("DNSNames (-want +got):\n%s", diff)
	}
	if leaf.Subject.CommonName != names[0] || len(leaf.URIs) != 1 {
		t.Errorf("CN = %q, URIs = %v; want first DNS name and one URI", leaf.Subject.CommonName, leaf.URIs)
	}
}

func TestMintX509SVIDIPAddresses(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	svid, err := c.MintX509SVID(context.Background(), X509Params{
		CSR: newCSR(t, newKey(t, "p256"), nil), SPIFFEID: mustID(t, "spiffe://example.org/api"), IPAddresses: ips,
	})
	if err != nil {
		t.Fatal(err)
	}
	leaf := svid.Certificates[0]
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(ips[0]) || !leaf.IPAddresses[1].Equal(ips[1]) {
		t.Errorf("IPAddresses = %v, want %v", leaf.IPAddresses, ips)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("VerifyHostname(127.0.0.1): %v", err)
	}
	for _, bad := range [][]net.IP{{nil}, {net.IP{1, 2, 3}}, make([]net.IP, maxDNSNames+1)} {
		if _, err := c.MintX509SVID(context.Background(), X509Params{
			CSR: newCSR(t, newKey(t, "p256"), nil), SPIFFEID: mustID(t, "spiffe://example.org/api"), IPAddresses: bad,
		}); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("IPAddresses %v: error %v, want ErrInvalidParams", bad, err)
		}
	}
}

func TestMintX509SVIDKeyTypes(t *testing.T) {
	tests := []struct {
		kind    string
		wantErr error
	}{
		{"p256", nil},
		{"p384", nil},
		{"ed25519", nil},
		{"rsa2048", nil},
		{"rsa1024", ErrUnsupportedKey},
		{"p224", ErrUnsupportedKey},
		{"p521", ErrUnsupportedKey},
	}
	e := newEnv(t)
	c := e.newCA(t)
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			svid, err := c.MintX509SVID(context.Background(), X509Params{
				CSR: newCSR(t, newKey(t, tt.kind), nil), SPIFFEID: mustID(t, "spiffe://example.org/w"),
			})
			if !errorIs(err, tt.wantErr) {
				t.Fatalf("MintX509SVID error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if _, err := verifyX509(t, svid, c.Bundle(), e.t0); err != nil {
				t.Errorf("go-spiffe rejects the SVID: %v", err)
			}
		})
	}
}

func TestMintX509SVIDCapsNotAfter(t *testing.T) {
	tests := []struct {
		name string
		now  time.Duration // after t0
		ttl  time.Duration
		want time.Duration // NotAfter after t0
	}{
		{"default TTL", 0, 0, DefaultX509SVIDTTL},
		{"shorter TTL", 0, 30 * time.Minute, 30 * time.Minute},
		{"TTL beyond CA life", 0, 48 * time.Hour, DefaultCATTL},
		{"default TTL near CA end", 23*time.Hour + 30*time.Minute, 0, DefaultCATTL},
		{"one second left", DefaultCATTL - time.Second, 0, DefaultCATTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.newCA(t)
			now := e.at(tt.now)
			svid := mint(t, c, tt.ttl)
			want := e.t0.Add(tt.want)
			if !svid.ExpiresAt.Equal(want) || !svid.Certificates[0].NotAfter.Equal(want) {
				t.Errorf("NotAfter = %v, want %v", svid.ExpiresAt, want)
			}
			if ca := c.X509Authorities()[0]; svid.ExpiresAt.After(ca.NotAfter) {
				t.Errorf("SVID outlives its issuer (%v > %v)", svid.ExpiresAt, ca.NotAfter)
			}
			if _, err := verifyX509(t, svid, c.Bundle(), now); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestMintX509SVIDExpiredCA(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	e.at(DefaultCATTL) // no Rotate: the active key is at its end
	_, err := c.MintX509SVID(context.Background(), X509Params{
		CSR: newCSR(t, newKey(t, "p256"), nil), SPIFFEID: mustID(t, "spiffe://example.org/w"),
	})
	if !errorIs(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestMintX509SVIDNotBeforeBoundedByIssuer(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	e.at(-5 * time.Second) // a replica whose clock is behind
	svid := mint(t, c, 0)
	ca := c.X509Authorities()[0]
	if nb := svid.Certificates[0].NotBefore; !nb.Equal(ca.NotBefore) {
		t.Errorf("NotBefore = %v, want the issuer's %v", nb, ca.NotBefore)
	}
}

func TestMintX509SVIDSerialsAreRandom(t *testing.T) {
	c := newEnv(t).newCA(t)
	key := newKey(t, "p256")
	csr := newCSR(t, key, nil)
	seen := map[string]bool{}
	var wide bool
	for range 32 {
		svid, err := c.MintX509SVID(context.Background(), X509Params{CSR: csr, SPIFFEID: mustID(t, "spiffe://example.org/w")})
		if err != nil {
			t.Fatal(err)
		}
		n := svid.SerialNumber
		if n.Sign() <= 0 || n.BitLen() > 128 || seen[n.String()] {
			t.Fatalf("serial %v: not positive, too wide, or repeated", n)
		}
		seen[n.String()] = true
		wide = wide || n.Cmp(new(big.Int).Lsh(big.NewInt(1), 120)) > 0
	}
	if !wide {
		t.Error("32 serials all below 2^120: not 128 random bits")
	}
}

func TestMintX509SVIDSHA256Digest(t *testing.T) {
	// The SubjectKeyId derivation is RFC 7093 method 1.
	spki, _ := x509.MarshalPKIXPublicKey(newKey(t, "p256").Public())
	var parsed struct {
		Alg pkix.AlgorithmIdentifier
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &parsed); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(parsed.Key.Bytes)
	got, err := subjectKeyID(spki)
	if err != nil || !cmp.Equal(got, h[:20]) {
		t.Errorf("subjectKeyID = %x, %v; want %x", got, err, h[:20])
	}
}
