package agent

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/revocation"
)

// state is the agent's cache of what the server pushed: entries, bundles,
// revocations and the cursors to resume from. It is safe for concurrent
// use; bundles it hands out must not be modified.
type state struct {
	clock   func() time.Time
	changes *broadcaster

	mu          sync.RWMutex
	td          spiffeid.TrustDomain
	revision    int64
	revRevision int64
	entries     map[string]agentproto.Entry
	bundle      *spiffebundle.Bundle
	federated   map[spiffeid.TrustDomain]*spiffebundle.Bundle

	revoked atomic.Pointer[revocation.Set]

	// plane is what only the data-plane feed serves; feedVersion counts
	// changes for it (see dataplane.go). Both are guarded by mu.
	plane       planeData
	feedVersion int64
	// trust is the callers' trust states, served on the feed; guarded
	// by mu.
	trust trustData
}

func newState(clock func() time.Time, td spiffeid.TrustDomain) *state {
	s := &state{clock: clock, changes: newBroadcaster(), td: td,
		entries: map[string]agentproto.Entry{}, federated: map[spiffeid.TrustDomain]*spiffebundle.Bundle{},
		feedVersion: time.Now().UnixNano()} // not the injected clock: versions must grow across restarts
	s.revoked.Store(s.newSet())
	return s
}

func (s *state) newSet() *revocation.Set {
	set, err := revocation.New(context.Background(), revocation.Config{Clock: s.clock})
	if err != nil { // cannot happen without a store
		panic(fmt.Sprintf("agent: in-memory revocation set: %v", err))
	}
	return set
}

// trustDomain returns the trust domain, zero before the first attestation.
func (s *state) trustDomain() spiffeid.TrustDomain {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.td
}

// setTrust records the trust domain and bundle of a fresh attestation.
func (s *state) setTrust(td spiffeid.TrustDomain, b *spiffebundle.Bundle) {
	s.mu.Lock()
	s.td, s.bundle = td, b
	s.feedVersion++
	s.mu.Unlock()
	s.changes.notify()
}

// cursors returns the registry and revocation revisions to resume from.
func (s *state) cursors() (rev, revocations int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.revision, s.revRevision
}

// ownBundle returns the trust domain's bundle, nil before the first one.
func (s *state) ownBundle() *spiffebundle.Bundle {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.bundle
}

// bundles returns the own bundle and the federated ones, by trust domain.
func (s *state) bundles() (*spiffebundle.Bundle, map[spiffeid.TrustDomain]*spiffebundle.Bundle) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.bundle, maps.Clone(s.federated)
}

// bundleFor returns the bundle of td, own or federated.
func (s *state) bundleFor(td spiffeid.TrustDomain) (*spiffebundle.Bundle, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if td == s.td && s.bundle != nil {
		return s.bundle, nil
	}
	if b, ok := s.federated[td]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("no bundle for trust domain %q", td)
}

// GetX509BundleForTrustDomain returns the X.509 bundle of td (own or
// federated), or an error if there is none. It makes the state an
// x509bundle.Source.
func (s *state) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	b, err := s.bundleFor(td)
	if err != nil {
		return nil, err
	}
	return b.X509Bundle(), nil
}

// GetJWTBundleForTrustDomain returns the JWT bundle of td (own or
// federated), or an error if there is none.
func (s *state) GetJWTBundleForTrustDomain(td spiffeid.TrustDomain) (*jwtbundle.Bundle, error) {
	b, err := s.bundleFor(td)
	if err != nil {
		return nil, err
	}
	return b.JWTBundle(), nil
}

// ownX509Source serves only the own trust domain's bundle: the server must
// chain to it, never to a federated one.
type ownX509Source struct{ s *state }

func (o ownX509Source) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	b := o.s.ownBundle()
	if b == nil || td != b.TrustDomain() {
		return nil, fmt.Errorf("server certificate of trust domain %q: no bundle", td)
	}
	return b.X509Bundle(), nil
}

// IsRevoked reports whether the revocation set covers a credential; see
// authn.RevocationChecker.
func (s *state) IsRevoked(kind, value string, issuedAt time.Time) bool {
	return s.revoked.Load().IsRevoked(kind, value, issuedAt)
}

// entry returns the entry with the given ID.
func (s *state) entry(id string) (agentproto.Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.entries[id]
	return e, ok
}

// matching returns the active entries all of whose selectors are in sels,
// sorted by SPIFFE ID and ID.
func (s *state) matching(sels map[string]bool) []agentproto.Entry {
	s.mu.RLock()
	var out []agentproto.Entry
	for _, e := range s.entries {
		if !isActive(e) {
			continue
		}
		if !slices.ContainsFunc(e.Selectors, func(sel string) bool { return !sels[sel] }) {
			out = append(out, e)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b agentproto.Entry) int {
		return cmp.Or(cmp.Compare(a.SPIFFEID, b.SPIFFEID), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// apply applies a parsed message. It returns whether anything but the
// liveness of the stream changed.
func (s *state) apply(u *update) bool {
	if u.heartbeat && !u.full && len(u.entries) == 0 && len(u.deleted) == 0 && u.bundle == nil &&
		len(u.federated) == 0 && len(u.removed) == 0 && u.revs == nil && u.plane.empty() {
		return false
	}
	s.mu.Lock()
	if u.full {
		s.entries = make(map[string]agentproto.Entry, len(u.entries))
	}
	for _, e := range u.entries {
		s.entries[e.ID] = e
	}
	for _, id := range u.deleted {
		delete(s.entries, id)
	}
	if u.bundle != nil {
		s.bundle = u.bundle
	}
	for td, b := range u.federated {
		s.federated[td] = b
	}
	for _, td := range u.removed {
		delete(s.federated, td)
	}
	s.revision = u.revision
	s.applyPlane(u)
	if r := u.revs; r != nil {
		entries, _ := revocationEntries(r.Entries)
		if r.Full {
			set := s.newSet()
			set.Apply(entries...)
			s.revoked.Store(set)
			s.revRevision = r.Revision
		} else {
			s.revoked.Load().Apply(entries...)
			s.revRevision = max(s.revRevision, r.Revision)
		}
	}
	s.mu.Unlock()
	s.changes.notify()
	return true
}

// pruneRevocations drops revocations whose credentials have all expired.
func (s *state) pruneRevocations(ctx context.Context) {
	_ = s.revoked.Load().Sync(ctx) // no store: it only prunes
}

// counts returns the number of entries and federated bundles held.
func (s *state) counts() (entries, federated, revocations int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries), len(s.federated), s.revoked.Load().Len()
}

// clear forgets everything, after an eviction.
func (s *state) clear() {
	s.mu.Lock()
	s.entries = map[string]agentproto.Entry{}
	s.federated = map[spiffeid.TrustDomain]*spiffebundle.Bundle{}
	s.bundle = nil
	s.revision, s.revRevision = 0, 0
	s.revoked.Store(s.newSet())
	s.plane = planeData{}
	s.trust = trustData{}
	s.feedVersion++
	s.mu.Unlock()
	s.changes.notify()
}

// isActive reports whether the agent serves e: only an "active" entry, so
// that a status this agent does not know fails closed.
func isActive(e agentproto.Entry) bool { return e.Status == "active" }
