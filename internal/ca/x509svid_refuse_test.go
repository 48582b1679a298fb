package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

var (
	oidECDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
)

// resignCSR keeps the request info of csr and replaces its signature.
func resignCSR(tb testing.TB, csr []byte, alg asn1.ObjectIdentifier, signer crypto.Signer, hash crypto.Hash) []byte {
	tb.Helper()
	var parsed struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(csr, &parsed); err != nil {
		tb.Fatal(err)
	}
	h := hash.New()
	h.Write(parsed.TBS.FullBytes)
	sig, err := signer.(*ecdsa.PrivateKey).Sign(rand.Reader, h.Sum(nil), hash)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := asn1.Marshal(struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}{parsed.TBS, pkix.AlgorithmIdentifier{Algorithm: alg}, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestMintX509SVIDRefuses(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	key := newKey(t, "p256")
	good := newCSR(t, key, nil)
	flipped := bytes.Clone(good)
	flipped[len(flipped)-3] ^= 0x01
	huge := newCSR(t, key, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{
		{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: mustASN1(t, strings.Repeat("x", MaxCSRSize))},
	}})
	id := mustID(t, "spiffe://example.org/w")
	tooManyNames := make([]string, maxDNSNames+1)
	for i := range tooManyNames {
		tooManyNames[i] = "a.example.com"
	}

	tests := []struct {
		name    string
		p       X509Params
		wantErr error
		wantMsg string
	}{
		{"bad signature", X509Params{CSR: flipped, SPIFFEID: id}, ErrInvalidCSR, "proof of possession"},
		{"signed by another key", X509Params{CSR: resignCSR(t, good, oidECDSAWithSHA256, newKey(t, "p256"), crypto.SHA256), SPIFFEID: id}, ErrInvalidCSR, "proof of possession"},
		{"SHA-1 signature", X509Params{CSR: resignCSR(t, good, oidECDSAWithSHA1, key, crypto.SHA1), SPIFFEID: id}, ErrInvalidCSR, "ECDSA-SHA1 not accepted"},
		{"oversized valid CSR", X509Params{CSR: huge, SPIFFEID: id}, ErrInvalidCSR, "limit 16384"},
		{"oversized garbage", X509Params{CSR: make([]byte, MaxCSRSize+1), SPIFFEID: id}, ErrInvalidCSR, "limit"},
		{"empty CSR", X509Params{SPIFFEID: id}, ErrInvalidCSR, "empty"},
		{"garbage CSR", X509Params{CSR: []byte("not a csr"), SPIFFEID: id}, ErrInvalidCSR, ""},
		{"trailing data", X509Params{CSR: append(bytes.Clone(good), 0), SPIFFEID: id}, ErrInvalidCSR, ""},
		{"truncated", X509Params{CSR: good[:len(good)/2], SPIFFEID: id}, ErrInvalidCSR, ""},
		{"certificate instead of CSR", X509Params{CSR: c.X509Authorities()[0].Raw, SPIFFEID: id}, ErrInvalidCSR, ""},
		{"foreign trust domain", X509Params{CSR: good, SPIFFEID: mustID(t, "spiffe://other.org/w")}, ErrInvalidSPIFFEID, "not in trust domain"},
		{"empty path", X509Params{CSR: good, SPIFFEID: spiffeid.RequireTrustDomainFromString("example.org").ID()}, ErrInvalidSPIFFEID, "names the trust domain"},
		{"zero ID", X509Params{CSR: good}, ErrInvalidSPIFFEID, "empty"},
		{"negative TTL", X509Params{CSR: good, SPIFFEID: id, TTL: -time.Second}, ErrInvalidParams, "negative TTL"},
		{"DNS name with space", X509Params{CSR: good, SPIFFEID: id, DNSNames: []string{"bad name"}}, ErrInvalidParams, "invalid DNS name"},
		{"DNS name leading hyphen", X509Params{CSR: good, SPIFFEID: id, DNSNames: []string{"-a.example.com"}}, ErrInvalidParams, "invalid DNS name"},
		{"DNS name empty label", X509Params{CSR: good, SPIFFEID: id, DNSNames: []string{"a..example.com"}}, ErrInvalidParams, "invalid DNS name"},
		{"DNS wildcard on TLD", X509Params{CSR: good, SPIFFEID: id, DNSNames: []string{"*.com"}}, ErrInvalidParams, "invalid DNS name"},
		{"DNS inner wildcard", X509Params{CSR: good, SPIFFEID: id, DNSNames: []string{"a.*.example.com"}}, ErrInvalidParams, "invalid DNS name"},
		{"empty DNS name", X509Params{CSR: good, SPIFFEID: id, DNSNames: []string{""}}, ErrInvalidParams, "invalid DNS name"},
		{"too many DNS names", X509Params{CSR: good, SPIFFEID: id, DNSNames: tooManyNames}, ErrInvalidParams, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svid, err := c.MintX509SVID(context.Background(), tt.p)
			if !errorIs(err, tt.wantErr) || !strings.Contains(errString(err), tt.wantMsg) {
				t.Fatalf("MintX509SVID = %v, %v; want %v containing %q", svid, err, tt.wantErr, tt.wantMsg)
			}
			if svid != nil {
				t.Error("an SVID came with the error")
			}
		})
	}
	// The good CSR itself is accepted, so each case fails for its own reason.
	if _, err := c.MintX509SVID(context.Background(), X509Params{CSR: good, SPIFFEID: id}); err != nil {
		t.Fatalf("control: %v", err)
	}
}

func mustASN1(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := asn1.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
