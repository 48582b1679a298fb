package federation

import (
	"context"
	"errors"
	"fmt"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
)

// Add federates with r.TrustDomain on behalf of actor. It fetches the
// foreign bundle right away (for https_spiffe, authenticating the endpoint
// against bootstrap, the SPIFFE bundle JSON of the endpoint ID's trust
// domain; bootstrap is ignored for https_web), then stores the relationship
// with that bundle and records a "federation.added" event. Nothing is stored
// unless all of this succeeds.
//
// Errors: a [*FieldError] (matching [ErrInvalid], and [ErrOwnTrustDomain]
// for our own trust domain) naming the bad field or "bootstrap";
// [ErrExists] if the trust domain is already federated; an error matching
// [ErrFetch] or [ErrBundleRejected] if the fetch fails, in which case a
// failure event is recorded; otherwise a store or ledger error.
func (m *Manager) Add(ctx context.Context, actor audit.Actor, r Relationship, bootstrap []byte) (Status, error) {
	if err := r.validate(m.own); err != nil {
		return Status{}, err
	}
	var auth *spiffebundle.Bundle
	if r.Profile == ProfileHTTPSSPIFFE {
		b, err := m.parseBootstrap(r, bootstrap)
		if err != nil {
			return Status{}, err
		}
		auth = b
	}
	td := r.TrustDomain

	m.addMu.Lock()
	defer m.addMu.Unlock()
	if m.lookup(td) != nil {
		return Status{}, fmt.Errorf("%w: %q", ErrExists, td)
	}
	switch _, err := m.store.GetFederation(ctx, td.String()); {
	case err == nil:
		// Added by another replica since this one loaded.
		return Status{}, fmt.Errorf("%w: %q", ErrExists, td)
	case !isStoreNotFound(err):
		return Status{}, fmt.Errorf("federation: add %q: %w", td, err)
	}

	fetched, err := m.fetch(ctx, r, auth)
	if err != nil {
		err = fmt.Errorf("federation: add %q: %w", td, err)
		aerr := m.audit(ctx, audit.TypeFederationAdded, "create", actor, r, audit.OutcomeFailure, nil, err, nil)
		return Status{}, errors.Join(err, aerr)
	}

	now := m.clock()
	e := &entry{state: state{
		rel:         r,
		bundle:      fetched,
		createdAt:   now,
		lastRefresh: now,
		nextRefresh: now.Add(refreshInterval(fetched)),
	}}
	rec, err := e.record(now)
	if err != nil {
		return Status{}, fmt.Errorf("federation: add %q: %w", td, err)
	}
	if err := m.store.PutFederation(ctx, rec); err != nil {
		return Status{}, fmt.Errorf("federation: add %q: store: %w", td, err)
	}
	if err := m.audit(ctx, audit.TypeFederationAdded, "create", actor, r, audit.OutcomeSuccess, fetched, nil, nil); err != nil {
		// The action fails with its audit: undo the store write.
		if derr := m.store.DeleteFederation(ctx, rec.TrustDomain); derr != nil {
			m.logger.Error("federation: cannot undo add after audit failure",
				"trust_domain", rec.TrustDomain, "error", derr)
			err = errors.Join(err, derr)
		}
		return Status{}, err
	}

	m.mu.Lock()
	m.entries[td] = e
	st := e.status()
	m.mu.Unlock()
	m.poke()
	m.logger.Info("federation: added", "trust_domain", td.String(), "profile", string(r.Profile),
		"sequence", st.Sequence)
	return st, nil
}

// parseBootstrap parses and checks the bootstrap bundle of an https_spiffe
// relationship. It returns a *FieldError.
func (m *Manager) parseBootstrap(r Relationship, bootstrap []byte) (*spiffebundle.Bundle, error) {
	endpointTD := r.EndpointSPIFFEID.TrustDomain()
	if endpointTD == m.own && m.ownBundle == nil {
		return nil, fieldErr("EndpointSPIFFEID", fmt.Errorf("is in our own trust domain %q, which needs Config.OwnBundle", m.own))
	}
	b, err := parseBundle(endpointTD, bootstrap)
	if err != nil {
		return nil, fieldErr("bootstrap", err)
	}
	if len(b.X509Authorities()) == 0 {
		return nil, fieldErr("bootstrap", errors.New("has no X.509 authorities to authenticate the endpoint with"))
	}
	return b, nil
}
