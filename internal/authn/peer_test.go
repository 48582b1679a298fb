package authn_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/revocation"
)

func newX509Verifier(t testing.TB, cfg authn.X509Config) *authn.X509Verifier {
	t.Helper()
	v, err := authn.NewX509Verifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestX509Verifier(t *testing.T) {
	c := newCA(t)
	leaf := mint(t, c, "/client")
	cert := leaf.Certificates[0]
	now := time.Now()
	bundles := func() *x509bundle.Set { return x509bundle.NewSet(c.Bundle().X509Bundle()) }

	t.Run("peer", func(t *testing.T) {
		p, err := newX509Verifier(t, authn.X509Config{Bundles: bundles()}).Verify(leaf.Certificates, now)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(cert.Raw)
		if p.ID != leaf.ID || p.Serial != cert.SerialNumber.Text(16) || p.Thumbprint != base64.RawURLEncoding.EncodeToString(sum[:]) {
			t.Errorf("Verify = %+v", p)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		other := mint(t, newCA(t), "/client") // another CA of the same trust domain
		foreignTD := spiffeid.RequireTrustDomainFromString("elsewhere.example")
		tests := []struct {
			name  string
			certs []*x509.Certificate
			cfg   authn.X509Config
			at    time.Time
			want  error
		}{
			{"no certificate", nil, authn.X509Config{Bundles: bundles()}, now, authn.ErrNoX509SVID},
			{"no bundle", leaf.Certificates, authn.X509Config{Bundles: x509bundle.NewSet()}, now, authn.ErrUntrustedDomain},
			{"not the trust domain", leaf.Certificates, authn.X509Config{Bundles: bundles(), TrustDomain: foreignTD}, now, authn.ErrUntrustedDomain},
			{"signed by another CA", other.Certificates, authn.X509Config{Bundles: bundles()}, now, authn.ErrInvalidX509SVID},
			{"expired", leaf.Certificates, authn.X509Config{Bundles: bundles()}, cert.NotAfter.Add(time.Second), authn.ErrInvalidX509SVID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := newX509Verifier(t, tt.cfg).Verify(tt.certs, tt.at); !errors.Is(err, tt.want) {
					t.Errorf("Verify = %v, want %v", err, tt.want)
				}
			})
		}
	})
	// A verification taken from the cache returns the very Peer of the
	// first one.
	t.Run("cache", func(t *testing.T) {
		var version uint64
		v := newX509Verifier(t, authn.X509Config{Bundles: bundles(), MaxCacheEntries: 10, CacheTTL: time.Minute,
			BundleVersion: func() uint64 { return version }})
		first, err := v.Verify(leaf.Certificates, now)
		if err != nil {
			t.Fatal(err)
		}
		cached := func(at time.Time, want bool) {
			t.Helper()
			p, err := v.Verify(leaf.Certificates, at)
			if err != nil {
				t.Fatal(err)
			}
			if (p == first) != want {
				t.Errorf("at %v: cached %v, want %v", at.Sub(now), p == first, want)
			}
			first = p
		}
		cached(now.Add(30*time.Second), true)
		cached(now.Add(time.Minute), false) // CacheTTL
		cached(now.Add(time.Minute), true)
		version++
		cached(now.Add(time.Minute), false) // the bundle changed
		cached(now.Add(time.Minute), true)
		if cert.NotBefore.Before(now) {
			if _, err := v.Verify(leaf.Certificates, cert.NotBefore.Add(-time.Second)); !errors.Is(err, authn.ErrInvalidX509SVID) {
				t.Errorf("before NotBefore: %v, want ErrInvalidX509SVID", err)
			}
		}
		off := newX509Verifier(t, authn.X509Config{Bundles: bundles()})
		a, _ := off.Verify(leaf.Certificates, now)
		if b, _ := off.Verify(leaf.Certificates, now); a == b {
			t.Error("without a cache, a chain was taken from it")
		}
	})
	// What changes while a chain is cached bites on the next call.
	t.Run("cached chain refused", func(t *testing.T) {
		tests := []struct {
			name   string
			change func(set *revocation.Set, b *x509bundle.Set)
			want   error
		}{
			{"serial revoked", func(set *revocation.Set, _ *x509bundle.Set) {
				set.Apply(revocation.Entry{Kind: revocation.KindX509Serial, Value: cert.SerialNumber.Text(16), RevokedAt: now, Revision: 1})
			}, authn.ErrRevoked},
			{"SPIFFE ID revoked", func(set *revocation.Set, _ *x509bundle.Set) {
				set.Apply(revocation.Entry{Kind: revocation.KindSPIFFEID, Value: leaf.ID.String(), RevokedAt: now, Revision: 1})
			}, authn.ErrRevoked},
			{"bundle removed", func(_ *revocation.Set, b *x509bundle.Set) { b.Remove(td) }, authn.ErrUntrustedDomain},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				set, b := newSet(t), bundles()
				v := newX509Verifier(t, authn.X509Config{Bundles: b, Revocations: set, MaxCacheEntries: 10})
				if _, err := v.Verify(leaf.Certificates, now); err != nil {
					t.Fatal(err)
				}
				tt.change(set, b)
				if _, err := v.Verify(leaf.Certificates, now); !errors.Is(err, tt.want) {
					t.Errorf("Verify = %v, want %v", err, tt.want)
				}
			})
		}
	})
	if _, err := authn.NewX509Verifier(authn.X509Config{}); err == nil {
		t.Error("NewX509Verifier without Bundles accepted it")
	}
}
