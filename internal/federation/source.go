package federation

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// The Manager serves foreign bundles to TLS verification.
var _ spiffebundle.Source = (*Manager)(nil)

// OwnBundleSource provides our own trust domain's current bundle. The CA
// implements it.
type OwnBundleSource interface {
	// Bundle returns the current bundle, or nil if there is none yet.
	Bundle() *spiffebundle.Bundle
}

// GetBundleForTrustDomain returns a copy of the bundle held for the foreign
// trust domain td. It returns an error wrapping [ErrNotFound] for our own
// trust domain and for any trust domain not federated.
func (m *Manager) GetBundleForTrustDomain(td spiffeid.TrustDomain) (*spiffebundle.Bundle, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.entries[td]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, td)
	}
	return e.bundle.Clone(), nil
}

// Bundles returns copies of all foreign bundles held, ordered by trust
// domain.
func (m *Manager) Bundles() []*spiffebundle.Bundle {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*spiffebundle.Bundle, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, e.bundle.Clone())
	}
	slices.SortFunc(out, func(a, b *spiffebundle.Bundle) int {
		return cmp.Compare(a.TrustDomain().String(), b.TrustDomain().String())
	})
	return out
}

// endpointBundle returns the bundle that authenticates an https_spiffe
// endpoint on a refresh: the latest bundle held for the endpoint ID's trust
// domain endpointTD, be it the foreign trust domain itself, another
// federated one, or our own (from Config.OwnBundle).
func (m *Manager) endpointBundle(endpointTD spiffeid.TrustDomain) (*spiffebundle.Bundle, error) {
	if endpointTD == m.own {
		if m.ownBundle == nil {
			return nil, fmt.Errorf("endpoint is in our own trust domain %q and no own bundle is configured", m.own)
		}
		b := m.ownBundle.Bundle()
		if b == nil || b.TrustDomain() != m.own {
			return nil, fmt.Errorf("own bundle for %q is not available", m.own)
		}
		return b.Clone(), nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.entries[endpointTD]
	if !ok {
		return nil, fmt.Errorf("no bundle held for the endpoint's trust domain %q (federate it first)", endpointTD)
	}
	return e.bundle.Clone(), nil
}
