package agent

import (
	"encoding/json"
	"slices"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/dataplane"
)

// maxRevocationBatches bounds the batches kept since the last full one;
// past it the agent asks the server for a full batch at its next
// reconnection (see cursors), so that the chain proxies verify stays short.
const maxRevocationBatches = 256

// planeData is what the agent keeps only to serve the data-plane feed:
// the revocation batches as the server signed them (since the last full
// one, so that a proxy can verify the whole set itself), the policy set
// and the token service's keys. It is persisted with the state.
type planeData struct {
	Batches   []string              `json:"revocation_batches,omitempty"`
	Policies  *agentproto.PolicySet `json:"policies,omitempty"`
	TokenKeys json.RawMessage       `json:"token_keys,omitempty"`
	Issuer    string                `json:"token_issuer,omitempty"`
	// Trust is the callers' trust states as saved; in memory they are
	// in state.trust.
	Trust *agentproto.TrustUpdate `json:"trust,omitempty"`
}

func (p planeData) clone() planeData {
	p.Batches = slices.Clone(p.Batches)
	return p
}

// planeUpdate is the data-plane part of a sync message.
type planeUpdate struct {
	policies      *agentproto.PolicySet
	tokenKeys     json.RawMessage
	issuer        string
	revocationJWS string
	trust         *agentproto.TrustUpdate
}

func (u planeUpdate) empty() bool {
	return u.policies == nil && len(u.tokenKeys) == 0 && u.issuer == "" && u.revocationJWS == "" && u.trust == nil
}

// trustOnly reports whether u changes the trust states and nothing else
// of the data plane.
func (u planeUpdate) trustOnly() bool {
	return u.trust != nil && !u.trust.Full && u.policies == nil && len(u.tokenKeys) == 0 && u.issuer == "" && u.revocationJWS == ""
}

// applyPlane records the data-plane part of u and counts a change of the
// feed. s.mu must be held for writing.
func (s *state) applyPlane(u *update) {
	s.feedVersion++
	p := u.plane
	if r := u.revs; r != nil && p.revocationJWS != "" {
		if r.Full {
			s.plane.Batches = []string{p.revocationJWS}
		} else {
			s.plane.Batches = append(s.plane.Batches, p.revocationJWS)
		}
	}
	if p.policies != nil && (s.plane.Policies == nil || p.policies.Revision >= s.plane.Policies.Revision) {
		s.plane.Policies = p.policies
	}
	if len(p.tokenKeys) > 0 {
		s.plane.TokenKeys = p.tokenKeys
	}
	if p.issuer != "" {
		s.plane.Issuer = p.issuer
	}
	if p.trust != nil {
		s.trust.apply(p.trust, s.feedVersion)
	}
}

// restorePlane restores persisted data-plane data. Without the signed
// batches (a state file written before the feed existed) the revocation
// cursor is reset, so that the server sends a full signed batch. s.mu
// must be held for writing.
func (s *state) restorePlane(p *planeData) {
	s.feedVersion++
	s.plane = planeData{}
	s.trust = trustData{}
	if p != nil {
		s.plane = p.clone()
		if t := s.plane.Trust; t != nil {
			t.Full = true
			checkTrust(t)
			s.trust.apply(t, s.feedVersion)
			s.plane.Trust = nil
		}
	}
	if len(s.plane.Batches) == 0 || len(s.plane.Batches) > maxRevocationBatches {
		s.revRevision = 0
	}
}

// feedState is the data-plane state at one feed version, in wire form.
type feedState struct {
	version  int64
	td       string
	bundles  map[string]json.RawMessage
	batches  []string
	policies json.RawMessage
	keys     json.RawMessage
	issuer   string
	trust    feedTrust
}

// feed returns the current feed state; ok is false while the agent has
// no own bundle yet.
func (s *state) feed() (f feedState, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.bundle == nil {
		return feedState{}, false
	}
	f = feedState{version: s.feedVersion, td: s.td.Name(), bundles: map[string]json.RawMessage{},
		batches: slices.Clone(s.plane.Batches), keys: s.plane.TokenKeys, issuer: s.plane.Issuer, trust: s.trust.capture()}
	if raw, err := s.bundle.Marshal(); err == nil {
		f.bundles[s.td.Name()] = raw
	}
	for td, b := range s.federated {
		if raw, err := b.Marshal(); err == nil {
			f.bundles[td.Name()] = raw
		}
	}
	if s.plane.Policies != nil {
		f.policies, _ = json.Marshal(s.plane.Policies)
	}
	return f, true
}

// full returns the whole state as a feed message.
func (f *feedState) full() *dataplane.FeedMessage {
	return &dataplane.FeedMessage{Version: f.version, Full: true, TrustDomain: f.td, Bundles: f.bundles,
		Revocations: f.batches, Policies: f.policies, TokenKeys: f.keys, Issuer: f.issuer, Trust: f.trust.full()}
}

// delta returns the message that brings a reader from prev to f; it may
// be empty (see FeedMessage.IsEmpty).
func (f *feedState) delta(prev *feedState) *dataplane.FeedMessage {
	m := &dataplane.FeedMessage{Version: f.version}
	if f.td != prev.td {
		return f.full()
	}
	for td, raw := range f.bundles {
		if !slices.Equal(raw, prev.bundles[td]) {
			if m.Bundles == nil {
				m.Bundles = map[string]json.RawMessage{}
			}
			m.Bundles[td] = raw
		}
	}
	for td := range prev.bundles {
		if _, ok := f.bundles[td]; !ok {
			m.BundlesRemoved = append(m.BundlesRemoved, td)
		}
	}
	slices.Sort(m.BundlesRemoved)
	n := len(prev.batches)
	if n <= len(f.batches) && slices.Equal(prev.batches, f.batches[:n]) {
		m.Revocations = f.batches[n:]
	} else {
		m.Revocations = f.batches // the chain restarted with a full batch
	}
	if len(m.Revocations) == 0 {
		m.Revocations = nil
	}
	if !slices.Equal(f.policies, prev.policies) {
		m.Policies = f.policies
	}
	if !slices.Equal(f.keys, prev.keys) || f.issuer != prev.issuer {
		m.TokenKeys, m.Issuer = f.keys, f.issuer
	}
	m.Trust = f.trust.delta(prev.trust)
	return m
}
