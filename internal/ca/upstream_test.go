package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
)

// testUpstream is an upstream PKI written to PEM files.
type testUpstream struct {
	root, signing                 *x509.Certificate // signing == root without intermediate
	certFile, keyFile, bundleFile string
}

// newTestUpstream makes a root (and, if withIntermediate, an intermediate
// that signs) valid from t0-1h for life, and writes the PEM files.
func newTestUpstream(tb testing.TB, t0 time.Time, life time.Duration, withIntermediate bool, keyPEMType string) *testUpstream {
	tb.Helper()
	rootKey := newKey(tb, "p256")
	root := makeCACert(tb, "Upstream Root", t0, life, nil, nil, rootKey)
	u := &testUpstream{root: root, signing: root}
	signingKey, chain := rootKey, []*x509.Certificate{root}
	if withIntermediate {
		signingKey = newKey(tb, "p384")
		u.signing = makeCACert(tb, "Upstream Intermediate", t0, life, root, rootKey, signingKey)
		chain = []*x509.Certificate{u.signing, root}
	}
	dir := tb.TempDir()
	u.certFile, u.keyFile, u.bundleFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "bundle.pem")
	writePEM(tb, u.certFile, certBlocks(chain)...)
	writePEM(tb, u.bundleFile, certBlocks([]*x509.Certificate{root})...)
	var der []byte
	var err error
	switch keyPEMType {
	case "PRIVATE KEY":
		der, err = x509.MarshalPKCS8PrivateKey(signingKey)
	case "EC PRIVATE KEY":
		der, err = x509.MarshalECPrivateKey(signingKey.(*ecdsa.PrivateKey))
	}
	if err != nil {
		tb.Fatal(err)
	}
	writePEM(tb, u.keyFile, &pem.Block{Type: keyPEMType, Bytes: der})
	return u
}

func makeCACert(tb testing.TB, cn string, t0 time.Time, life time.Duration, parent *x509.Certificate, parentKey, key crypto.Signer) *x509.Certificate {
	tb.Helper()
	serial, err := newSerial()
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Upstream"}},
		NotBefore:             t0.Add(-time.Hour),
		NotAfter:              t0.Add(life),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

func certBlocks(certs []*x509.Certificate) []*pem.Block {
	var out []*pem.Block
	for _, c := range certs {
		out = append(out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return out
}

func writePEM(tb testing.TB, path string, blocks ...*pem.Block) {
	tb.Helper()
	var data []byte
	for _, b := range blocks {
		data = append(data, pem.EncodeToMemory(b)...)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
}

func TestUpstream(t *testing.T) {
	tests := []struct {
		name             string
		withIntermediate bool
		keyType          string
	}{
		{"root signs, PKCS#8 key", false, "PRIVATE KEY"},
		{"intermediate signs, PKCS#8 key", true, "PRIVATE KEY"},
		{"root signs, SEC 1 key", false, "EC PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			up := newTestUpstream(t, e.t0, 365*24*time.Hour, tt.withIntermediate, tt.keyType)
			u, err := LoadUpstream(up.certFile, up.keyFile, up.bundleFile)
			if err != nil {
				t.Fatalf("LoadUpstream: %v", err)
			}
			if s := fmt.Sprint(u); !strings.Contains(s, "key redacted") {
				t.Errorf("Upstream prints as %q", s)
			}
			c := e.newCA(t, func(cfg *Config) { cfg.Upstream = u })
			roots := c.X509Authorities()
			if len(roots) != 1 || !roots[0].Equal(up.root) {
				t.Fatalf("bundle roots are not exactly the upstream root")
			}

			svid := mint(t, c, 0)
			wantLen := 2
			if tt.withIntermediate {
				wantLen = 3
			}
			if len(svid.Certificates) != wantLen {
				t.Fatalf("chain has %d certificates, want %d (leaf, our CA, upstream intermediates)", len(svid.Certificates), wantLen)
			}
			ours := svid.Certificates[1]
			if !ours.IsCA || ours.Issuer.String() != up.signing.Subject.String() || len(ours.URIs) != 1 || ours.URIs[0].String() != "spiffe://example.org" {
				t.Errorf("intermediate: IsCA %v, issuer %v, URIs %v", ours.IsCA, ours.Issuer, ours.URIs)
			}
			if err := ours.CheckSignatureFrom(up.signing); err != nil {
				t.Errorf("our CA is not signed by the upstream: %v", err)
			}
			if tt.withIntermediate && !svid.Certificates[2].Equal(up.signing) {
				t.Error("upstream intermediate missing from the chain")
			}
			for _, src := range []x509bundle.Source{c.Bundle(), x509bundle.FromX509Authorities(e.td, []*x509.Certificate{up.root})} {
				if _, err := verifyX509(t, svid, src, e.t0); err != nil {
					t.Errorf("go-spiffe rejects the SVID against the upstream root: %v", err)
				}
			}
			token := mintJWT(t, c)
			if _, err := verifyJWT(t, token, c.Bundle(), "aud", e.t0); err != nil {
				t.Errorf("JWT under upstream: %v", err)
			}
		})
	}
}

func TestUpstreamCapsCALifetime(t *testing.T) {
	e := newEnv(t)
	up := newTestUpstream(t, e.t0, 2*time.Hour, true, "PRIVATE KEY")
	u, err := LoadUpstream(up.certFile, up.keyFile, up.bundleFile)
	if err != nil {
		t.Fatal(err)
	}
	c := e.newCA(t, func(cfg *Config) { cfg.Upstream = u })
	svid := mint(t, c, 48*time.Hour)
	ours := svid.Certificates[1]
	if !ours.NotAfter.Equal(up.signing.NotAfter) {
		t.Errorf("CA NotAfter %v, want the upstream's %v", ours.NotAfter, up.signing.NotAfter)
	}
	if !svid.ExpiresAt.Equal(up.signing.NotAfter) {
		t.Errorf("SVID NotAfter %v, want capped at %v", svid.ExpiresAt, up.signing.NotAfter)
	}
	if !ours.NotBefore.Equal(e.t0.Add(-certBackdate)) {
		t.Errorf("CA NotBefore %v", ours.NotBefore)
	}
}

func TestLoadUpstreamRefuses(t *testing.T) {
	t0 := time.Now()
	up := newTestUpstream(t, t0, time.Hour, false, "PRIVATE KEY")
	other := newTestUpstream(t, t0, time.Hour, false, "PRIVATE KEY")
	dir := t.TempDir()
	file := func(name string, blocks ...*pem.Block) string {
		p := filepath.Join(dir, name)
		writePEM(t, p, blocks...)
		return p
	}
	tests := []struct {
		name              string
		cert, key, bundle string
		wantMsg           string
	}{
		{"missing cert file", filepath.Join(dir, "nope"), up.keyFile, up.bundleFile, "no such file"},
		{"missing key file", up.certFile, filepath.Join(dir, "nope"), up.bundleFile, "no such file"},
		{"missing bundle file", up.certFile, up.keyFile, filepath.Join(dir, "nope"), "no such file"},
		{"no certificate", file("empty.pem"), up.keyFile, up.bundleFile, "no CERTIFICATE"},
		{"no key", up.certFile, file("nokey.pem", &pem.Block{Type: "CERTIFICATE", Bytes: up.root.Raw}), up.bundleFile, "no private key"},
		{"empty bundle", up.certFile, up.keyFile, file("empty-bundle.pem"), "no CERTIFICATE"},
		{"key of another CA", up.certFile, other.keyFile, up.bundleFile, "key does not match"},
		{"corrupt key", up.certFile, file("bad.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}), up.bundleFile, "bad.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := LoadUpstream(tt.cert, tt.key, tt.bundle)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("LoadUpstream = %v, %v; want error containing %q", u, err, tt.wantMsg)
			}
		})
	}
}

func TestUpstreamValidation(t *testing.T) {
	e := newEnv(t)
	up := newTestUpstream(t, e.t0, time.Hour, false, "PRIVATE KEY")
	other := newTestUpstream(t, e.t0, time.Hour, false, "PRIVATE KEY")
	u, err := LoadUpstream(up.certFile, up.keyFile, up.bundleFile)
	if err != nil {
		t.Fatal(err)
	}
	leafKey := newKey(t, "p256")
	leafTmpl := &x509.Certificate{SerialNumber: big1(), NotBefore: e.t0.Add(-time.Hour), NotAfter: e.t0.Add(time.Hour), BasicConstraintsValid: true}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, up.root, leafKey.Public(), u.Signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	tests := []struct {
		name    string
		u       *Upstream
		now     time.Duration
		wantMsg string
	}{
		{"not a CA", &Upstream{Certificates: []*x509.Certificate{leaf}, Signer: leafKey, Roots: u.Roots}, 0, "is not a CA"},
		{"roots of another PKI", &Upstream{Certificates: u.Certificates, Signer: u.Signer, Roots: []*x509.Certificate{other.root}}, 0, "does not chain"},
		{"expired", u, 2 * time.Hour, "does not chain"},
		{"no roots", &Upstream{Certificates: u.Certificates, Signer: u.Signer}, 0, "no roots"},
		{"no signer", &Upstream{Certificates: u.Certificates, Roots: u.Roots}, 0, "no signer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.at(tt.now)
			cfg := e.config()
			cfg.Upstream = tt.u
			_, err := New(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("New = %v, want error containing %q", err, tt.wantMsg)
			}
		})
	}
}

func big1() *big.Int { return big.NewInt(1) }

// TestConfigChangeReplacesActiveKey switches a CA from self-signed to an
// upstream and then to another upstream: each time the active key no longer
// fits, and New activates one that does.
func TestConfigChangeReplacesActiveKey(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	selfSigned := slotIDs(c)[statusActive]
	e.auditor.take()
	load := func(up *testUpstream) *Upstream {
		u, err := LoadUpstream(up.certFile, up.keyFile, up.bundleFile)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	up1 := newTestUpstream(t, e.t0, 365*24*time.Hour, false, "PRIVATE KEY")
	c1 := e.newCA(t, func(cfg *Config) { cfg.Upstream = load(up1) })
	ids := slotIDs(c1)
	if ids[statusActive] == selfSigned || ids[statusOld] != selfSigned {
		t.Fatalf("after adding an upstream: slots %v", ids)
	}
	assertEvents(t, e, audit.TypeCAKeyActivated+" "+ids[statusActive])
	if seqOf(t, c1.Bundle()) != 2 {
		t.Errorf("sequence %d, want 2", seqOf(t, c1.Bundle()))
	}
	if _, err := verifyX509(t, mint(t, c1, 0), x509bundle.FromX509Authorities(e.td, []*x509.Certificate{up1.root}), e.t0); err != nil {
		t.Error(err)
	}

	up2 := newTestUpstream(t, e.t0, 365*24*time.Hour, true, "PRIVATE KEY")
	c2 := e.newCA(t, func(cfg *Config) { cfg.Upstream = load(up2) })
	if got := slotIDs(c2)[statusActive]; got == ids[statusActive] {
		t.Error("active key kept after the upstream root changed")
	}
	if seqOf(t, c2.Bundle()) != 3 {
		t.Errorf("sequence %d, want 3", seqOf(t, c2.Bundle()))
	}
	if _, err := verifyX509(t, mint(t, c2, 0), c2.Bundle(), e.t0); err != nil {
		t.Error(err)
	}
}
