package main

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/adminclient/adminclienttest"
)

// newOtherCAPEM returns the PEM root of a CA the fake server does not use.
func newOtherCAPEM(t *testing.T) []byte {
	t.Helper()
	return adminclienttest.NewCA(t, fakeTD).BundlePEM()
}

func TestBundleShow(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString(fakeTD)
	runCases(t, []cliCase{
		{
			name: "json",
			args: []string{"bundle", "show"},
			code: 0,
			check: func(t *testing.T, f *fakeAdmin, r result, _ string) {
				b, err := spiffebundle.Parse(td, []byte(r.stdout))
				if err != nil {
					t.Fatalf("stdout is not a SPIFFE bundle: %v\n%s", err, r.stdout)
				}
				if !b.HasX509Authority(f.ca.Cert) {
					t.Error("bundle lacks the CA")
				}
			},
		},
		{
			name: "pem",
			args: []string{"bundle", "show", "--format", "pem"},
			code: 0,
			check: func(t *testing.T, f *fakeAdmin, r result, _ string) {
				block, rest := pem.Decode([]byte(r.stdout))
				if block == nil || len(rest) != 0 {
					t.Fatalf("stdout is not one PEM block:\n%s", r.stdout)
				}
				c, err := x509.ParseCertificate(block.Bytes)
				if err != nil || !c.Equal(f.ca.Cert) {
					t.Errorf("PEM certificate is not the CA (err %v)", err)
				}
			},
		},
		{
			name:   "bad format",
			args:   []string{"bundle", "show", "--format", "xml"},
			code:   2,
			stderr: []string{"-o must be json, yaml or pem"},
			check:  noRequests,
		},
	})
}
