package adminclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
)

// ServerPath is the path of the SPIFFE ID a Kith server presents:
// spiffe://<trust domain>/kith/server.
const ServerPath = "/kith/server"

// tlsConfig returns a TLS client configuration that accepts only a server
// X509-SVID chaining to roots whose SPIFFE ID is spiffe://td/kith/server, or,
// when td is zero, spiffe://<any trust domain>/kith/server.
//
// Host name verification is replaced, not skipped: go-spiffe turns off the
// standard verifier (which would look for a DNS name the SVID lacks) and
// verifies the chain and the SPIFFE ID itself in VerifyPeerCertificate.
func tlsConfig(roots []*x509.Certificate, td spiffeid.TrustDomain) (*tls.Config, error) {
	if len(roots) == 0 {
		return nil, errors.New("no trust anchors (Config.Roots) to verify the server")
	}
	authorize := tlsconfig.AdaptMatcher(func(id spiffeid.ID) error {
		if id.Path() != ServerPath || (!td.IsZero() && id.TrustDomain() != td) {
			return fmt.Errorf("server presented %q, want %s", id, wantServerID(td))
		}
		return nil
	})
	cfg := tlsconfig.TLSClientConfig(rootsSource{td: td, roots: roots}, authorize)
	cfg.MinVersion = tls.VersionTLS12
	return cfg, nil
}

// wantServerID describes the server SPIFFE ID accepted for td.
func wantServerID(td spiffeid.TrustDomain) string {
	if td.IsZero() {
		return "spiffe://<trust domain>" + ServerPath
	}
	return td.IDString() + ServerPath
}

// rootsSource is an x509bundle.Source holding the configured roots. With a
// zero td it answers for any trust domain, so the chain is anchored in the
// roots whatever trust domain the server names.
type rootsSource struct {
	td    spiffeid.TrustDomain
	roots []*x509.Certificate
}

// GetX509BundleForTrustDomain returns the roots as the bundle of td, or an
// error if the source is pinned to another trust domain.
func (s rootsSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if !s.td.IsZero() && td != s.td {
		return nil, fmt.Errorf("server certificate is for trust domain %q, want %q", td, s.td)
	}
	return x509bundle.FromX509Authorities(td, s.roots), nil
}
