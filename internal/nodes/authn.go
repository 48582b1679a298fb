package nodes

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/store"
)

// Caller is an authenticated agent: its record and the certificate it
// presented.
type Caller struct {
	Agent Agent
	// Leaf is the X509-SVID the agent presented.
	Leaf *x509.Certificate
	// Actor names the agent in audit events.
	Actor audit.Actor
}

// Authenticate verifies the certificate chain an agent presented over
// mutual TLS (leaf first): it must verify against the trust domain's own
// X.509 roots as an X509-SVID of spiffe://<td>/kith/agent/<id>, that agent
// must be known and not evicted, and neither the leaf's serial nor the
// agent's SPIFFE ID may be revoked for a certificate issued when it was.
// Refusals are recorded as "agent.authenticated" events.
//
// It returns an error wrapping [ErrUnauthenticated] when any check but
// eviction fails, [ErrEvicted] for an evicted agent, or the store's error.
func (s *Service) Authenticate(ctx context.Context, chain []*x509.Certificate, remoteAddr string) (*Caller, error) {
	c, err := s.authenticate(ctx, chain, remoteAddr)
	if err != nil && (errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrEvicted)) {
		actor := audit.Actor{Kind: "agent", ID: "unauthenticated", CredentialType: "x509_svid", RemoteAddr: remoteAddr}
		if len(chain) > 0 {
			if id, idErr := x509svid.IDFromCert(chain[0]); idErr == nil {
				actor.ID = id.String()
			}
			actor.CredentialID = chain[0].SerialNumber.Text(16)
		}
		_ = s.record(ctx, audit.Event{Type: audit.TypeAgentAuthenticated, Actor: actor, Action: "authenticate",
			Outcome: audit.OutcomeDenied, Reason: err.Error()})
	}
	return c, err
}

func (s *Service) authenticate(ctx context.Context, chain []*x509.Certificate, remoteAddr string) (*Caller, error) {
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no client certificate", ErrUnauthenticated)
	}
	roots := x509bundle.FromX509Authorities(s.cfg.TrustDomain, s.cfg.CA.X509Authorities())
	id, _, err := x509svid.Verify(chain, roots, x509svid.WithTime(s.cfg.Clock()))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	agentID, ok := agentIDOf(s.cfg.TrustDomain, id)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not an agent", ErrUnauthenticated, id)
	}
	rec, err := s.cfg.Store.GetAgent(ctx, agentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown agent %s", ErrUnauthenticated, agentID)
	}
	if err != nil {
		return nil, fmt.Errorf("nodes: agent lookup: %w", err)
	}
	agent, err := agentFromRecord(rec)
	if err != nil {
		return nil, err
	}
	if agent.Evicted() {
		return nil, fmt.Errorf("%w: %s at %v", ErrEvicted, agentID, agent.EvictedAt)
	}
	leaf := chain[0]
	serial := leaf.SerialNumber.Text(16)
	if s.cfg.Revocations.Revoked(revocation.KindX509Serial, serial, leaf.NotBefore) ||
		s.cfg.Revocations.Revoked(revocation.KindSPIFFEID, id.String(), leaf.NotBefore) {
		return nil, fmt.Errorf("%w: the SVID of agent %s is revoked", ErrUnauthenticated, agentID)
	}
	return &Caller{Agent: agent, Leaf: leaf, Actor: audit.Actor{
		Kind: "agent", ID: id.String(), CredentialID: serial, CredentialType: "x509_svid", RemoteAddr: remoteAddr,
	}}, nil
}
