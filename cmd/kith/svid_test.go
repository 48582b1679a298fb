package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/api"
)

// checkX509Files checks the key and certificate kith wrote to dir.
func checkX509Files(t *testing.T, f *fakeAdmin, r result, dir string) {
	t.Helper()
	st, err := os.Stat(dir + "/svid.key")
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %v, want 0600", mode)
	}
	block, _ := pem.Decode(readFile(t, dir+"/svid.key"))
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatal("key file is not a PKCS#8 PEM key")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	block, _ = pem.Decode(readFile(t, dir+"/svid.pem"))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatal("cert file is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != "spiffe://example.org/web" {
		t.Errorf("certificate URIs = %v, want spiffe://example.org/web", cert.URIs)
	}
	if !key.(*ecdsa.PrivateKey).PublicKey.Equal(cert.PublicKey) {
		t.Error("certificate is not for the written key")
	}
	if err := cert.CheckSignatureFrom(f.ca.Cert); err != nil {
		t.Errorf("certificate not signed by the CA: %v", err)
	}
	if strings.Contains(r.stdout+r.stderr, "PRIVATE KEY") {
		t.Error("the private key was printed")
	}
}

func TestSVIDMint(t *testing.T) {
	runCases(t, []cliCase{
		{
			name: "x509 with bundle and DNS names",
			setup: func(t *testing.T, _ *fakeAdmin, dir string) {
				mustWrite(t, dir+"/svid.key", []byte("old, world-readable"), 0o644) // must become 0600
			},
			args: []string{"svid", "mint", "--spiffe-id", "spiffe://example.org/web", "--cert", "$DIR/svid.pem", "--key", "$DIR/svid.key",
				"--bundle", "$DIR/bundle.pem", "--ttl", "10m", "--dns", "web.local", "--dns", "web"},
			code:   0,
			stdout: []string{"Minted X509-SVID spiffe://example.org/web", "svid.pem", "svid.key", "bundle.pem"},
			check: func(t *testing.T, f *fakeAdmin, r result, dir string) {
				checkX509Files(t, f, r, dir)
				if got := f.lastX509; got.TTL != api.Duration(10*time.Minute) || !cmp.Equal(got.DNSNames, []string{"web.local", "web"}) {
					t.Errorf("mint request = %+v", got)
				}
				csr, err := x509.ParseCertificateRequest(f.lastX509.CSR)
				if err != nil || len(csr.URIs) != 1 || csr.URIs[0].String() != "spiffe://example.org/web" {
					t.Errorf("CSR URIs wrong (err %v)", err)
				}
				block, _ := pem.Decode(readFile(t, dir+"/bundle.pem"))
				if block == nil || string(block.Bytes) != string(f.ca.Cert.Raw) {
					t.Error("bundle file is not the CA in PEM")
				}
			},
		},
		{
			name: "x509, json",
			args: []string{"svid", "mint", "--spiffe-id", "spiffe://example.org/web", "--cert", "$DIR/svid.pem", "--key", "$DIR/svid.key", "-o", "json"},
			code: 0,
			check: func(t *testing.T, f *fakeAdmin, r result, dir string) {
				checkX509Files(t, f, r, dir)
				jsonOut(func(t *testing.T, s api.X509SVID) {
					if s.SPIFFEID != "spiffe://example.org/web" || len(s.Certificates) != 1 {
						t.Errorf("svid = %+v", s)
					}
				})(t, f, r, dir)
			},
		},
		{
			name:   "x509 without key file",
			args:   []string{"svid", "mint", "--spiffe-id", "spiffe://example.org/web", "--cert", "$DIR/svid.pem"},
			code:   2,
			stderr: []string{"--cert and --key are required"},
			check:  noRequests,
		},
		{
			name:   "x509 with a bad SPIFFE ID",
			args:   []string{"svid", "mint", "--spiffe-id", "https://example.org/web", "--cert", "$DIR/c", "--key", "$DIR/k"},
			code:   2,
			stderr: []string{"--spiffe-id:"},
			check:  noRequests,
		},
		{
			name:   "jwt",
			args:   []string{"svid", "mint", "--jwt", "--spiffe-id", "spiffe://example.org/web", "--audience", "orders", "--audience", "stock", "--ttl", "2m"},
			code:   0,
			stdout: []string{"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\n"},
			check: func(t *testing.T, f *fakeAdmin, r result, _ string) {
				want := api.JWTSVIDMint{SPIFFEID: "spiffe://example.org/web", Audience: []string{"orders", "stock"}, TTL: api.Duration(2 * time.Minute)}
				if diff := cmp.Diff(want, f.lastJWT); diff != "" {
					t.Errorf("mint request (-want +got):\n%s", diff)
				}
				if r.stdout != "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\n" || r.stderr != "" {
					t.Errorf("stdout %q, stderr %q; want the token alone", r.stdout, r.stderr)
				}
			},
		},
		{
			name:   "jwt without audience",
			args:   []string{"svid", "mint", "--jwt", "--spiffe-id", "spiffe://example.org/web"},
			code:   2,
			stderr: []string{"--jwt needs at least one --audience"},
		},
		{
			name:   "jwt with a key file",
			args:   []string{"svid", "mint", "--jwt", "--spiffe-id", "spiffe://example.org/web", "--audience", "a", "--key", "k"},
			code:   2,
			stderr: []string{"do not apply to --jwt"},
		},
		{
			name:   "audience without jwt",
			args:   []string{"svid", "mint", "--spiffe-id", "spiffe://example.org/web", "--audience", "a"},
			code:   2,
			stderr: []string{"--audience applies to --jwt only"},
		},
	})
}
