package federation

import (
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// maxBundleSize bounds a bootstrap or stored bundle document. Real bundles
// are a few kilobytes.
const maxBundleSize = 1 << 20

// parseBundle parses SPIFFE bundle JSON for td and checks it with
// checkBundle. It is used for bootstrap and stored bundles; fetched bundles
// are parsed by go-spiffe and then checked the same way.
func parseBundle(td spiffeid.TrustDomain, data []byte) (*spiffebundle.Bundle, error) {
	if len(data) == 0 {
		return nil, errors.New("bundle is empty")
	}
	if len(data) > maxBundleSize {
		return nil, fmt.Errorf("bundle is %d bytes, more than %d", len(data), maxBundleSize)
	}
	b, err := spiffebundle.Parse(td, data)
	if err != nil {
		return nil, err
	}
	if err := checkBundle(td, b); err != nil {
		return nil, err
	}
	return b, nil
}

// checkBundle refuses a bundle that cannot stand for td: one of another
// trust domain, one without X.509 or JWT authorities, and one holding an
// X.509 authority whose SPIFFE ID names another trust domain (a bundle
// served for the wrong trust domain). The error wraps ErrBundleRejected.
func checkBundle(td spiffeid.TrustDomain, b *spiffebundle.Bundle) error {
	if b.TrustDomain() != td {
		return fmt.Errorf("%w: bundle is for trust domain %q, not %q", ErrBundleRejected, b.TrustDomain(), td)
	}
	x509s := b.X509Authorities()
	if len(x509s) == 0 && len(b.JWTAuthorities()) == 0 {
		return fmt.Errorf("%w: bundle for %q has no X.509 or JWT authorities", ErrBundleRejected, td)
	}
	for _, ca := range x509s {
		for _, u := range ca.URIs {
			if u.Scheme != "spiffe" {
				continue
			}
			id, err := spiffeid.FromURI(u)
			if err != nil {
				return fmt.Errorf("%w: X.509 authority %q has an invalid SPIFFE ID: %v", ErrBundleRejected, ca.Subject, err)
			}
			if id.TrustDomain() != td {
				return fmt.Errorf("%w: X.509 authority %q belongs to trust domain %q, not %q", ErrBundleRejected, ca.Subject, id.TrustDomain(), td)
			}
		}
	}
	return nil
}

// bundleSequence returns b's sequence number, zero when absent.
func bundleSequence(b *spiffebundle.Bundle) uint64 {
	seq, _ := b.SequenceNumber()
	return seq
}

// sameContent reports whether a and b hold the same authorities and
// sequence number, ignoring the refresh hint.
func sameContent(a, b *spiffebundle.Bundle) bool {
	if a == nil || b == nil {
		return a == b
	}
	a, b = a.Clone(), b.Clone()
	a.ClearRefreshHint()
	b.ClearRefreshHint()
	return a.Equal(b)
}
