package federation

import (
	"context"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	spiffefed "github.com/spiffe/go-spiffe/v2/federation"
)

// fetch retrieves and checks the bundle of rel from its endpoint, within
// the Manager's HTTP timeout. For https_spiffe the endpoint's X509-SVID is
// verified against auth, which must hold the bundle of the endpoint ID's
// trust domain; auth is unused for https_web. The error wraps ErrFetch or
// ErrBundleRejected.
func (m *Manager) fetch(ctx context.Context, rel Relationship, auth *spiffebundle.Bundle) (*spiffebundle.Bundle, error) {
	ctx, cancel := context.WithTimeout(ctx, m.httpTimeout)
	defer cancel()

	var opt spiffefed.FetchOption
	switch rel.Profile {
	case ProfileHTTPSSPIFFE:
		opt = spiffefed.WithSPIFFEAuth(auth, rel.EndpointSPIFFEID)
	default:
		// A nil pool makes crypto/tls use the system roots.
		opt = spiffefed.WithWebPKIRoots(m.webRoots)
	}
	b, err := spiffefed.FetchBundle(ctx, rel.TrustDomain, rel.BundleEndpointURL, opt)
	if err != nil {
		return nil, fmt.Errorf("%w from %s: %w", ErrFetch, rel.BundleEndpointURL, err)
	}
	if err := checkBundle(rel.TrustDomain, b); err != nil {
		return nil, fmt.Errorf("bundle from %s: %w", rel.BundleEndpointURL, err)
	}
	return b, nil
}
