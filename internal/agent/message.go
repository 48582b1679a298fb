package agent

import (
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
)

// update is a sync message checked and parsed, ready to apply.
type update struct {
	revision  int64
	heartbeat bool
	evicted   bool
	full      bool
	entries   []agentproto.Entry
	deleted   []string
	bundle    *spiffebundle.Bundle // nil: unchanged
	federated map[spiffeid.TrustDomain]*spiffebundle.Bundle
	removed   []spiffeid.TrustDomain
	revs      *agentproto.RevocationBatch // nil: unchanged
	skipped   []string                    // why entries or bundles were skipped
	plane     planeUpdate                 // what only the data-plane feed uses
}

// parseMessage checks msg for trust domain td: it parses the bundles
// (the own bundle must have X.509 authorities), verifies the revocation
// batch against the message's bundle or else held, and validates entries.
// Invalid entries and federated bundles are skipped and reported in
// skipped; an invalid own bundle or revocation batch fails the message.
func parseMessage(msg agentproto.Message, td spiffeid.TrustDomain, held *spiffebundle.Bundle) (*update, error) {
	u := &update{revision: msg.Revision, heartbeat: msg.Heartbeat, evicted: msg.Evicted, full: msg.Full, deleted: msg.Deleted}
	if msg.Revision < 0 {
		return nil, errors.New("negative revision")
	}
	if len(msg.Bundle) > 0 {
		b, err := spiffebundle.Parse(td, msg.Bundle)
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		if len(b.X509Authorities()) == 0 {
			return nil, errors.New("bundle has no X.509 authority")
		}
		u.bundle = b
		held = b
	}
	for name, raw := range msg.Federated {
		ftd, err := spiffeid.TrustDomainFromString(name)
		if err != nil || ftd == td {
			u.skipped = append(u.skipped, fmt.Sprintf("federated bundle %q: not a foreign trust domain", name))
			continue
		}
		b, err := spiffebundle.Parse(ftd, raw)
		if err != nil {
			u.skipped = append(u.skipped, fmt.Sprintf("federated bundle %q: %v", name, err))
			continue
		}
		if u.federated == nil {
			u.federated = make(map[spiffeid.TrustDomain]*spiffebundle.Bundle)
		}
		u.federated[ftd] = b
	}
	for _, name := range msg.FederatedRemoved {
		if ftd, err := spiffeid.TrustDomainFromString(name); err == nil {
			u.removed = append(u.removed, ftd)
		}
	}
	if msg.Revocations != "" {
		if held == nil {
			return nil, errors.New("revocations before any bundle")
		}
		batch, err := verifyRevocations(msg.Revocations, held.JWTBundle())
		if err != nil {
			return nil, err
		}
		u.revs = batch
	}
	u.plane = planeUpdate{policies: msg.Policies, tokenKeys: msg.TokenKeys, issuer: msg.TokenIssuer, revocationJWS: msg.Revocations,
		trust: msg.Trust}
	if msg.Trust != nil {
		if n := checkTrust(msg.Trust); n > 0 {
			u.skipped = append(u.skipped, fmt.Sprintf("%d trust states without identity or with a score out of range", n))
		}
	}
	for _, e := range msg.Entries {
		if err := checkEntry(e, td); err != nil {
			u.skipped = append(u.skipped, err.Error())
			continue
		}
		u.entries = append(u.entries, e)
	}
	return u, nil
}

// checkEntry checks the fields of an entry the agent relies on.
func checkEntry(e agentproto.Entry, td spiffeid.TrustDomain) error {
	if e.ID == "" {
		return errors.New("entry without ID")
	}
	id, err := spiffeid.FromString(e.SPIFFEID)
	if err != nil {
		return fmt.Errorf("entry %s: SPIFFE ID: %v", e.ID, err)
	}
	if id.TrustDomain() != td || id.Path() == "" {
		return fmt.Errorf("entry %s: %s is not a workload ID of %s", e.ID, id, td)
	}
	if len(e.Selectors) == 0 {
		return fmt.Errorf("entry %s: no selectors", e.ID)
	}
	if e.X509SVIDTTL < 0 || e.JWTSVIDTTL < 0 {
		return fmt.Errorf("entry %s: negative TTL", e.ID)
	}
	return nil
}
