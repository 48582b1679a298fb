package dataplane

import (
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/revocation"
)

// Snapshot is trust data to build a [View] from without an agent, for
// tests of proxies and middleware and for static deployments.
type Snapshot struct {
	// TrustDomain is the own trust domain. Required.
	TrustDomain spiffeid.TrustDomain
	// Bundles are the own bundle (required) and federated ones.
	Bundles []*spiffebundle.Bundle
	// Revocations are applied as they are: the caller vouches for them,
	// no signature is checked.
	Revocations []revocation.Entry
	// Policies are compiled as revision PolicyRevision.
	Policies       []policy.Document
	PolicyRevision int64
	// TokenKeys are the token service's public keys; Issuer its issuer.
	TokenKeys *jose.JSONWebKeySet
	Issuer    string
	// Config supplies the Logger and Clock; SocketPath is ignored.
	Config Config
}

// NewStatic returns a ready View holding s; [View.Run] must not be
// called on it, [View.Apply] may. It returns an error for a missing trust
// domain or own bundle, or the compile errors of the policies.
func NewStatic(s Snapshot) (*View, error) {
	if s.TrustDomain.IsZero() {
		return nil, errors.New("dataplane: snapshot: TrustDomain is required")
	}
	v, err := newView(s.Config)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{td: s.TrustDomain, bundles: map[spiffeid.TrustDomain]*spiffebundle.Bundle{},
		tokenKeys: s.TokenKeys, issuer: s.Issuer}
	for _, b := range s.Bundles {
		snap.bundles[b.TrustDomain()] = b
	}
	if snap.bundles[s.TrustDomain] == nil {
		return nil, fmt.Errorf("dataplane: snapshot: no bundle of %s", s.TrustDomain)
	}
	if len(s.Policies) > 0 {
		if err := v.engine.Load(s.PolicyRevision, s.Policies); err != nil {
			return nil, fmt.Errorf("dataplane: snapshot: %w", err)
		}
	}
	v.revoked.Load().Apply(s.Revocations...)
	v.cur.Store(snap)
	v.readyOnce.Do(func() { close(v.ready) })
	return v, nil
}
