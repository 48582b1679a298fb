package federation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Refresh fetches the bundle of td now, whether due or not, and returns the
// relationship's status afterwards. A bundle whose content changed is stored
// and recorded as a "federation.bundle.refreshed" event. A failure keeps the
// last good bundle, sets Status.LastError, schedules a retry with backoff and
// is recorded as a "federation.refresh.failed" event. A fetched bundle whose
// spiffe_sequence is lower than the one held (an absent one counts as zero)
// is refused, and the store never goes back to a lower sequence number: if
// another replica stored a newer bundle, that one is taken instead.
//
// Errors: [ErrNotFound] if td is not federated (or was removed by another
// replica); an error matching [ErrFetch] or [ErrBundleRejected] if the
// fetch failed; otherwise a store or ledger error. The returned Status is
// valid whenever the error is not ErrNotFound.
func (m *Manager) Refresh(ctx context.Context, td spiffeid.TrustDomain) (Status, error) {
	e := m.lookup(td)
	if e == nil {
		return Status{}, fmt.Errorf("%w: %q", ErrNotFound, td)
	}
	return m.refresh(ctx, e, false)
}

// refresh fetches e's bundle and applies the result. With onlyIfDue it does
// nothing unless e is due, which lets Run skip an entry that Refresh has
// just refreshed.
func (m *Manager) refresh(ctx context.Context, e *entry, onlyIfDue bool) (Status, error) {
	e.op.Lock()
	defer e.op.Unlock()

	m.mu.RLock()
	s, removed := e.state, e.removed
	m.mu.RUnlock()
	td := s.rel.TrustDomain
	if removed {
		return Status{}, fmt.Errorf("%w: %q", ErrNotFound, td)
	}
	if onlyIfDue && m.clock().Before(s.nextRefresh) {
		return s.status(), nil
	}

	fetched, err := m.fetchNext(ctx, s)
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled by the caller (or shutdown): not the endpoint's
			// fault, so neither a failure nor a reason to back off.
			return s.status(), fmt.Errorf("federation: refresh %q: %w", td, ctx.Err())
		}
		return m.refreshFailed(ctx, e, s, err)
	}
	return m.refreshed(ctx, e, s, fetched)
}

// fetchNext fetches the successor of the bundle in s, authenticating an
// https_spiffe endpoint against the latest bundle held for its trust domain,
// and refuses a bundle whose sequence number is lower than the one held.
func (m *Manager) fetchNext(ctx context.Context, s state) (*spiffebundle.Bundle, error) {
	var auth *spiffebundle.Bundle
	if s.rel.Profile == ProfileHTTPSSPIFFE {
		b, err := m.endpointBundle(s.rel.EndpointSPIFFEID.TrustDomain())
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFetch, err)
		}
		auth = b
	}
	fetched, err := m.fetch(ctx, s.rel, auth)
	if err != nil {
		return nil, err
	}
	if got, held := bundleSequence(fetched), bundleSequence(s.bundle); got < held {
		return nil, fmt.Errorf("%w: sequence number went back from %d to %d", ErrBundleRejected, held, got)
	}
	return fetched, nil
}

// refreshed applies a successful fetch. The caller holds e.op; s is e's
// state as read under it.
func (m *Manager) refreshed(ctx context.Context, e *entry, s state, fetched *spiffebundle.Bundle) (Status, error) {
	now := m.clock()
	s.bundle = fetched
	s.lastRefresh = now
	s.nextRefresh = now.Add(refreshInterval(fetched))
	s.lastError = ""
	s.failures = 0

	prev, err := m.save(ctx, &s, now)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			m.drop(e)
			return Status{}, err
		}
		return m.refreshFailed(ctx, e, m.snapshot(e), fmt.Errorf("store: %w", err))
	}

	m.mu.Lock()
	e.state = s
	m.mu.Unlock()
	st := s.status()

	// Compare with what the store held, not with memory: another replica
	// may have stored (and recorded) this very bundle already.
	if prev != nil && sameContent(prev, s.bundle) {
		return st, nil
	}
	extra := map[string]string{}
	if prev != nil {
		extra["previous_sequence"] = strconv.FormatUint(bundleSequence(prev), 10)
	}
	m.logger.Info("federation: bundle refreshed", "trust_domain", s.rel.TrustDomain.String(),
		"sequence", st.Sequence, "x509_authorities", st.X509Authorities, "jwt_authorities", st.JWTAuthorities)
	if err := m.audit(ctx, audit.TypeFederationBundleRefreshed, "refresh", audit.SystemActor(), s.rel, audit.OutcomeSuccess, s.bundle, nil, extra); err != nil {
		// The bundle stays in effect: refusing a foreign rotation over a
		// ledger outage would break calls. The caller sees the error.
		return st, err
	}
	return st, nil
}

// refreshFailed records a failed refresh: the last good bundle stays, the
// next attempt is backed off. The caller holds e.op; s is e's state as read
// under it.
func (m *Manager) refreshFailed(ctx context.Context, e *entry, s state, cause error) (Status, error) {
	now := m.clock()
	s.failures++
	s.lastError = cause.Error()
	s.nextRefresh = now.Add(backoff(s.failures))
	err := fmt.Errorf("federation: refresh %q: %w", s.rel.TrustDomain, cause)

	if _, serr := m.save(ctx, &s, now); serr != nil {
		if errors.Is(serr, ErrNotFound) {
			m.drop(e)
			return Status{}, serr
		}
		// Keep the failure in memory anyway; the store catches up on the
		// next write.
		m.logger.Error("federation: cannot store refresh failure",
			"trust_domain", s.rel.TrustDomain.String(), "error", serr)
	}
	m.mu.Lock()
	e.state = s
	m.mu.Unlock()

	m.logger.Warn("federation: bundle refresh failed", "trust_domain", s.rel.TrustDomain.String(),
		"failures", s.failures, "next_refresh", s.nextRefresh, "error", cause)
	extra := map[string]string{"failures": strconv.Itoa(s.failures)}
	aerr := m.audit(ctx, audit.TypeFederationRefreshFailed, "refresh", audit.SystemActor(), s.rel, audit.OutcomeFailure, s.bundle, cause, extra)
	return s.status(), errors.Join(err, aerr)
}

// save writes s to the store, unless the store holds a bundle with a higher
// sequence number (stored by another replica): then that bundle is kept,
// and put into s. It returns the bundle the store held before, nil if it
// held none readable. It returns an error wrapping ErrNotFound when the
// relationship is no longer stored (removed by another replica).
func (m *Manager) save(ctx context.Context, s *state, now time.Time) (*spiffebundle.Bundle, error) {
	td := s.rel.TrustDomain
	cur, err := m.store.GetFederation(ctx, td.String())
	switch {
	case isStoreNotFound(err):
		return nil, fmt.Errorf("%w: %q was removed from the store", ErrNotFound, td)
	case err != nil:
		return nil, err
	}
	prev, perr := parseBundle(td, cur.Bundle)
	if perr != nil {
		m.logger.Warn("federation: stored bundle is unreadable; overwriting it",
			"trust_domain", td.String(), "error", perr)
		prev = nil
	}
	if prev != nil && bundleSequence(prev) > bundleSequence(s.bundle) {
		s.bundle = prev
	}
	if !cur.CreatedAt.IsZero() {
		s.createdAt = cur.CreatedAt
	}
	rec, err := s.record(now)
	if err != nil {
		return nil, err
	}
	if err := m.store.PutFederation(ctx, rec); err != nil {
		return nil, err
	}
	return prev, nil
}

// drop forgets e after its relationship was removed elsewhere.
func (m *Manager) drop(e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.removed = true
	if m.entries[e.rel.TrustDomain] == e {
		delete(m.entries, e.rel.TrustDomain)
	}
	m.logger.Info("federation: relationship removed by another replica", "trust_domain", e.rel.TrustDomain.String())
}

// snapshot returns e's state. The caller holds e.op.
func (m *Manager) snapshot(e *entry) state {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return e.state
}
