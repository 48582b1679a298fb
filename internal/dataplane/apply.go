package dataplane

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/trust"
)

// Apply applies one feed message and publishes the result atomically. [View.Run]
// calls it for each message; tests may call it to drive a View built with
// [NewStatic].
//
// It returns an error wrapping [ErrFeedMessage], leaving the View as it
// was, for a message that changes the trust domain, has no valid own
// bundle when it must, or brings revocations before any bundle. Parts
// that fail alone are logged and skipped: a federated bundle that does
// not parse, a revocation batch that does not verify against the own
// bundle's JWT authorities (forged, or signed by a key no longer in the
// bundle), a policy set that does not compile (the engine keeps the
// previous one), a JWKS that does not parse or holds a private key.
func (v *View) Apply(m *FeedMessage) error {
	v.applyMu.Lock()
	defer v.applyMu.Unlock()
	old := v.cur.Load()
	next := &snapshot{version: m.Version, td: old.td, bundles: old.bundles, tokenKeys: old.tokenKeys, issuer: old.issuer}
	if m.TrustDomain != "" {
		td, err := spiffeid.TrustDomainFromString(m.TrustDomain)
		if err != nil {
			return fmt.Errorf("%w: trust domain: %w", ErrFeedMessage, err)
		}
		if !old.td.IsZero() && td != old.td {
			return fmt.Errorf("%w: trust domain %s, the View holds %s", ErrFeedMessage, td, old.td)
		}
		next.td = td
	}
	if m.Full && next.td.IsZero() {
		return fmt.Errorf("%w: full message without trust domain", ErrFeedMessage)
	}
	if err := v.applyBundles(m, next); err != nil {
		return err
	}
	if len(m.TokenKeys) > 0 {
		if ks, err := parseJWKS(m.TokenKeys); err != nil {
			v.logger.Warn("dataplane: token keys ignored", "version", m.Version, "error", err)
		} else {
			next.tokenKeys = ks
		}
	}
	if m.Issuer != "" {
		next.issuer = m.Issuer
	}
	set, err := v.applyRevocations(m, next)
	if err != nil {
		return err
	}
	if len(m.Policies) > 0 {
		v.loadPolicies(m)
	}
	if m.Trust != nil {
		v.trust.Store(applyTrust(v.trust.Load(), m.Trust))
	}
	v.cur.Store(next)
	if set != nil {
		v.revoked.Store(set)
	}
	if m.Full {
		v.readyOnce.Do(func() { close(v.ready) })
	}
	v.noteChanged()
	return nil
}

// Changed returns a channel closed when the View next applies a feed
// message; its getters then show what the message changed. A caller
// waiting for a condition on the View takes the channel, checks the
// condition, and waits on the channel only if it does not hold yet.
func (v *View) Changed() <-chan struct{} {
	v.changedMu.Lock()
	defer v.changedMu.Unlock()
	if v.changed == nil {
		v.changed = make(chan struct{})
	}
	return v.changed
}

// noteChanged wakes the callers of Changed.
func (v *View) noteChanged() {
	v.changedMu.Lock()
	defer v.changedMu.Unlock()
	if v.changed != nil {
		close(v.changed)
		v.changed = nil
	}
}

// applyBundles applies the bundle changes of m to next.
func (v *View) applyBundles(m *FeedMessage, next *snapshot) error {
	if !m.Full && len(m.Bundles) == 0 && len(m.BundlesRemoved) == 0 {
		return nil
	}
	if m.Full {
		next.bundles = make(map[spiffeid.TrustDomain]*spiffebundle.Bundle, len(m.Bundles))
	} else {
		next.bundles = maps.Clone(next.bundles)
	}
	for name, raw := range m.Bundles {
		td, err := spiffeid.TrustDomainFromString(name)
		if err == nil && next.td.IsZero() {
			err = fmt.Errorf("bundle before the trust domain")
		}
		var b *spiffebundle.Bundle
		if err == nil {
			b, err = spiffebundle.Parse(td, raw)
		}
		if err == nil && td == next.td && len(b.X509Authorities()) == 0 {
			err = fmt.Errorf("no X.509 authority")
		}
		switch {
		case err != nil && td == next.td:
			return fmt.Errorf("%w: own bundle: %w", ErrFeedMessage, err)
		case err != nil:
			v.logger.Warn("dataplane: federated bundle ignored", "trust_domain", name, "error", err)
		default:
			next.bundles[td] = b
		}
	}
	for _, name := range m.BundlesRemoved {
		if td, err := spiffeid.TrustDomainFromString(name); err == nil && td != next.td {
			delete(next.bundles, td)
		}
	}
	if m.Full && next.bundles[next.td] == nil {
		return fmt.Errorf("%w: full message without the own bundle", ErrFeedMessage)
	}
	return nil
}

// applyRevocations verifies and applies the batches of m against the own
// bundle of next. It returns a new set when a full batch replaced it, nil
// when the batches (if any) were applied to the current set.
func (v *View) applyRevocations(m *FeedMessage, next *snapshot) (*revocation.Set, error) {
	if len(m.Revocations) == 0 {
		return nil, nil
	}
	own := next.bundles[next.td]
	if own == nil {
		return nil, fmt.Errorf("%w: revocations before any bundle", ErrFeedMessage)
	}
	var fresh *revocation.Set
	for i, jws := range m.Revocations {
		batch, err := agentproto.VerifyRevocations(jws, own.JWTBundle())
		if err != nil {
			v.logger.Warn("dataplane: revocation batch does not verify; ignored",
				"version", m.Version, "batch", i, "error", err)
			continue
		}
		entries := revocationEntries(batch.Entries)
		switch {
		case batch.Full:
			fresh = v.newSet()
			fresh.Apply(entries...)
		case fresh != nil:
			fresh.Apply(entries...)
		default:
			v.revoked.Load().Apply(entries...)
		}
	}
	return fresh, nil
}

// applyTrust returns the trust index after u: a new one from a full
// table, cur with u's entries otherwise. Entries without an identity are
// skipped and scores are kept within 0 to trust.MaxScore.
func applyTrust(cur *trust.Index, u *agentproto.TrustUpdate) *trust.Index {
	entries := make([]trust.Entry, 0, len(u.Entries))
	for _, e := range u.Entries {
		if e.ID == "" {
			continue
		}
		entries = append(entries, trust.Entry{Identity: e.ID, Score: min(max(e.Score, 0), trust.MaxScore), Signals: e.Signals})
	}
	if u.Full {
		return trust.NewIndex(trust.Table{Default: min(max(u.Default, 0), trust.MaxScore), Entries: entries})
	}
	return cur.With(entries...)
}

// loadPolicies compiles the policy set of m into the engine.
func (v *View) loadPolicies(m *FeedMessage) {
	var ps PolicySet
	if err := json.Unmarshal(m.Policies, &ps); err != nil {
		v.logger.Warn("dataplane: policy set ignored", "version", m.Version, "error", err)
		return
	}
	if err := v.engine.LoadJSON(ps.Revision, ps.Documents); err != nil {
		v.logger.Error("dataplane: policy set does not compile; keeping the previous one",
			"revision", ps.Revision, "error", err)
	}
}

// parseJWKS parses a public JWKS.
func parseJWKS(raw json.RawMessage) (*jose.JSONWebKeySet, error) {
	var ks jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &ks); err != nil {
		return nil, err
	}
	for _, k := range ks.Keys {
		if !k.IsPublic() {
			return nil, fmt.Errorf("key %q is not a public key", k.KeyID)
		}
	}
	return &ks, nil
}

// revocationEntries converts wire revocations, skipping unknown kinds.
func revocationEntries(in []agentproto.Revocation) []revocation.Entry {
	out := make([]revocation.Entry, 0, len(in))
	for _, r := range in {
		k, err := revocation.ParseKind(r.Kind)
		if err != nil {
			continue
		}
		out = append(out, revocation.Entry{Kind: k, Value: r.Value, RevokedAt: r.RevokedAt,
			ExpiresAt: r.ExpiresAt, Reason: r.Reason, Revision: r.Revision})
	}
	return out
}
