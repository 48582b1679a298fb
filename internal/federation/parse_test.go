package federation

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestCheckBundle(t *testing.T) {
	foreignCA := newCA(t, foreignTD, "foreign root")
	plainCA := newCA(t, spiffeid.TrustDomain{}, "root without SPIFFE ID")
	otherTD := spiffeid.RequireTrustDomainFromString("other.test")
	jwtOnly := spiffebundle.New(foreignTD)
	if err := jwtOnly.AddJWTAuthority("k1", newKey(t).Public()); err != nil {
		t.Fatal(err)
	}
	witOnly := spiffebundle.New(foreignTD)
	if err := witOnly.AddWITAuthority("w1", newKey(t).Public()); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		bundle  *spiffebundle.Bundle
		wantErr bool
	}{
		{"foreign root", newBundle(foreignTD, 1, foreignCA), false},
		{"root without SPIFFE ID", newBundle(foreignTD, 1, plainCA), false},
		{"JWT authorities only", jwtOnly, false},
		{"WIT authorities only", witOnly, true},
		{"empty", spiffebundle.New(foreignTD), true},
		{"bundle object of another trust domain", newBundle(otherTD, 1, newCA(t, otherTD, "o")), true},
		{"root of another trust domain", newBundle(foreignTD, 1, foreignCA, newCA(t, otherTD, "o")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkBundle(foreignTD, tt.bundle)
			if (err != nil) != tt.wantErr {
				t.Fatalf("checkBundle error = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBundleRejected) {
				t.Errorf("checkBundle error = %v, want ErrBundleRejected", err)
			}
		})
	}
}

func TestParseBundleRefusesOversized(t *testing.T) {
	data := make([]byte, maxBundleSize+1)
	if _, err := parseBundle(foreignTD, data); err == nil {
		t.Fatal("parseBundle accepted an oversized document")
	}
}

// FuzzParseBundle feeds parseBundle, which reads bootstrap and stored
// bundles, arbitrary bytes: it must never panic, and what it accepts must
// survive a marshal round trip and still pass checkBundle. Valid seeds are
// large, so keep minimization short when fuzzing:
//
//	go test -run '^$' -fuzz FuzzParseBundle -fuzztime 20s -fuzzminimizetime 200x ./internal/federation
func FuzzParseBundle(f *testing.F) {
	ca := newCA(f, foreignTD, "foreign root")
	full := newBundle(foreignTD, 9, ca)
	full.SetRefreshHint(5 * time.Minute)
	if err := full.AddJWTAuthority("kid-1", newKey(f).Public()); err != nil {
		f.Fatal(err)
	}
	f.Add(marshal(f, full))
	f.Add(marshal(f, newBundle(foreignTD, 1, ca)))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","use":"x509-svid"}],"spiffe_sequence":-1}`))
	f.Add([]byte(`{"spiffe_refresh_hint":1e300}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseBundle(foreignTD, data)
		if err != nil {
			return
		}
		again, err := parseBundle(foreignTD, marshal(t, b))
		if err != nil {
			t.Fatalf("accepted bundle does not round-trip: %v", err)
		}
		if !again.Equal(b) {
			t.Fatal("round-tripped bundle differs")
		}
		for _, c := range b.X509Authorities() {
			if _, err := x509.ParseCertificate(c.Raw); err != nil {
				t.Fatalf("accepted an unparseable authority: %v", err)
			}
		}
	})
}
