package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/url"
	"testing"
)

// FuzzMintX509SVIDCSR feeds arbitrary bytes as a CSR: MintX509SVID must
// not panic, must fail only with the CSR or key sentinels, and whatever it
// signs must be a well-formed X509-SVID. Seeds live here, not in testdata.
func FuzzMintX509SVIDCSR(f *testing.F) {
	e := newEnv(f)
	c := e.newCA(f)
	for _, kind := range []string{"p256", "p384", "ed25519", "rsa1024"} {
		f.Add(newCSR(f, newKey(f, kind), nil))
	}
	rich := newCSR(f, newKey(f, "p256"), &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "evil", Organization: []string{"x"}},
		DNSNames: []string{"evil.example.com"},
		URIs:     []*url.URL{{Scheme: "spiffe", Host: "evil.org", Path: "/x"}},
	})
	f.Add(rich)
	f.Add(rich[:len(rich)/2])
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x80})
	f.Add(bytes.Repeat([]byte{0x30, 0x82, 0xff, 0xff}, 8))
	f.Add(c.X509Authorities()[0].Raw)
	id := mustID(f, "spiffe://example.org/fuzz")

	f.Fuzz(func(t *testing.T, csr []byte) {
		svid, err := c.MintX509SVID(context.Background(), X509Params{CSR: csr, SPIFFEID: id})
		if err != nil {
			if !errors.Is(err, ErrInvalidCSR) && !errors.Is(err, ErrUnsupportedKey) {
				t.Fatalf("unexpected error class: %v", err)
			}
			if svid != nil {
				t.Fatal("SVID returned with an error")
			}
			return
		}
		leaf := svid.Certificates[0]
		if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.String() || leaf.IsCA ||
			leaf.KeyUsage != x509.KeyUsageDigitalSignature || len(leaf.DNSNames) != 0 {
			t.Fatalf("malformed SVID from CSR %x", csr)
		}
		if _, err := verifyX509(t, svid, c.Bundle(), e.t0); err != nil {
			t.Fatalf("minted SVID fails go-spiffe: %v", err)
		}
	})
}
