package nodes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/store"
)

// MaxBatch is the most X509-SVIDs one call of [Service.MintX509SVIDs] may
// ask for.
const MaxBatch = 100

// Renew mints a new X509-SVID for the calling agent's own SPIFFE ID with
// the CSR's key, records it as the agent's current SVID and records
// "agent.renewed".
//
// It returns [ErrEvicted] if the agent was evicted meanwhile, the CA's
// error for a bad CSR (ca.ErrInvalidCSR, ca.ErrUnsupportedKey) or no
// signing key, or the store's or ledger's error.
func (s *Service) Renew(ctx context.Context, c *Caller, csr []byte) (*ca.X509SVID, error) {
	svid, err := s.cfg.CA.MintX509SVID(ctx, ca.X509Params{CSR: csr, SPIFFEID: c.Agent.SPIFFEID, TTL: s.cfg.AgentSVIDTTL})
	if err != nil {
		return nil, fmt.Errorf("nodes: renew %s: %w", c.Agent.ID, err)
	}
	serial := svid.SerialNumber.Text(16)
	switch err := s.cfg.Store.RenewAgent(ctx, c.Agent.ID, serial, svid.ExpiresAt, s.now()); {
	case errors.Is(err, store.ErrConflict):
		return nil, fmt.Errorf("%w: %s", ErrEvicted, c.Agent.ID)
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("%w: unknown agent %s", ErrUnauthenticated, c.Agent.ID)
	case err != nil:
		return nil, fmt.Errorf("nodes: renew %s: %w", c.Agent.ID, err)
	}
	if err := s.record(ctx, audit.Event{
		Type: audit.TypeAgentRenewed, Actor: c.Actor, Target: c.Agent.ID, Action: "renew", Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"serial": serial, "expires_at": svid.ExpiresAt.UTC().Format(time.RFC3339)},
	}); err != nil {
		return nil, err
	}
	return svid, nil
}

// X509Request asks for one entry's X509-SVID for the key of CSR.
type X509Request struct {
	EntryID string
	CSR     []byte
}

// X509Result is the outcome of one X509Request: an SVID, or the reason it
// was refused.
type X509Result struct {
	EntryID  string
	SPIFFEID string
	SVID     *ca.X509SVID
	// Err is nil when SVID is set. It wraps [ErrEntryNotServed],
	// [ErrEntryInactive] (as an *InactiveError), [ErrRevokedRecently],
	// ca.ErrInvalidCSR or ca.ErrUnsupportedKey.
	Err error
}

// MintX509SVIDs mints an X509-SVID for each request whose entry the caller
// may serve: an active entry whose parent is the caller, or that is
// explicitly served by any agent (registry.Entry.AnyAgent). An entry with
// neither is served by no agent. The
// lifetime is the entry's X509-SVID TTL or the CA's default, never past the
// CA certificate. Each SVID is recorded against the agent (so that evicting
// it revokes the SVID) and in the ledger as "svid.x509.minted".
//
// Refusals caused by a request are per request, in X509Result.Err. The
// call itself returns an error wrapping [ErrInvalidRequest] for more than
// [MaxBatch] requests, or any other failure (ca.ErrUnavailable, the
// registry's, store's or ledger's error), which stops the batch.
func (s *Service) MintX509SVIDs(ctx context.Context, c *Caller, reqs []X509Request) ([]X509Result, error) {
	if len(reqs) > MaxBatch {
		return nil, invalid("at most %d SVIDs per request, got %d", MaxBatch, len(reqs))
	}
	out := make([]X509Result, 0, len(reqs))
	for _, req := range reqs {
		res := X509Result{EntryID: req.EntryID}
		e, err := s.servable(ctx, c, req.EntryID)
		if err == nil {
			res.SPIFFEID = e.SPIFFEID.String()
			var floor time.Time
			if floor, err = s.validFrom(e.SPIFFEID.String()); err == nil {
				res.SVID, err = s.cfg.CA.MintX509SVID(ctx, ca.X509Params{CSR: req.CSR, SPIFFEID: e.SPIFFEID, TTL: e.X509SVIDTTL, NotBefore: floor})
			}
		}
		if err == nil && s.cfg.Revocations.Revoked(revocation.KindSPIFFEID, res.SPIFFEID, res.SVID.Certificates[0].NotBefore) {
			// Dead on arrival: verifiers would refuse it. Drop it.
			res.SVID, err = nil, ErrRevokedRecently
		}
		if err != nil {
			if !itemError(err) {
				return nil, fmt.Errorf("nodes: mint svid of entry %s: %w", req.EntryID, err)
			}
			res.Err = err
			s.refuseSVID(ctx, c, "svid.x509.minted", req.EntryID, err)
			out = append(out, res)
			continue
		}
		serial := res.SVID.SerialNumber.Text(16)
		if err := s.cfg.Store.PutAgentSVID(ctx, store.AgentSVID{Serial: serial, AgentID: c.Agent.ID, EntryID: e.ID,
			SPIFFEID: res.SPIFFEID, IssuedAt: s.now(), ExpiresAt: res.SVID.ExpiresAt}); err != nil {
			return nil, fmt.Errorf("nodes: record svid of entry %s: %w", e.ID, err)
		}
		if err := s.record(ctx, audit.Event{
			Type: "svid.x509.minted", Actor: c.Actor, Target: res.SPIFFEID, Action: "mint", Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"entry_id": e.ID, "serial": serial, "expires_at": res.SVID.ExpiresAt.UTC().Format(time.RFC3339)},
		}); err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// MintJWTSVID mints a JWT-SVID for an entry the caller may serve (see
// [Service.MintX509SVIDs]), with the entry's JWT-SVID TTL or the CA's
// default, and records "svid.jwt.minted".
//
// It returns an error wrapping [ErrInvalidRequest] for an empty audience,
// [ErrEntryNotServed], [ErrEntryInactive] (as an *InactiveError),
// [ErrRevokedRecently] in the second of a revocation of the entry, the CA's
// error (ca.ErrInvalidParams for a bad audience), or the ledger's error.
func (s *Service) MintJWTSVID(ctx context.Context, c *Caller, entryID string, audience []string) (string, time.Time, error) {
	if len(audience) == 0 {
		return "", time.Time{}, invalid("a JWT-SVID needs at least one audience")
	}
	e, err := s.servable(ctx, c, entryID)
	if err != nil {
		s.refuseSVID(ctx, c, audit.TypeSVIDJWTMinted, entryID, err)
		return "", time.Time{}, err
	}
	if s.cfg.Revocations.Revoked(revocation.KindSPIFFEID, e.SPIFFEID.String(), s.cfg.Clock()) {
		return "", time.Time{}, ErrRevokedRecently // its iat would be covered by the revocation
	}
	tok, exp, err := s.cfg.CA.MintJWTSVID(ctx, ca.JWTParams{SPIFFEID: e.SPIFFEID, Audience: audience, TTL: e.JWTSVIDTTL})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("nodes: mint jwt-svid for entry %s: %w", e.ID, err)
	}
	if err := s.record(ctx, audit.Event{
		Type: audit.TypeSVIDJWTMinted, Actor: c.Actor, Target: e.SPIFFEID.String(), Action: "mint", Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"entry_id": e.ID, "audience": strings.Join(audience, " "),
			"expires_at": exp.UTC().Format(time.RFC3339)},
	}); err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

// servable returns the entry id if the caller may be issued its
// credentials, or ErrEntryNotServed, an *InactiveError, or the registry's
// error.
func (s *Service) servable(ctx context.Context, c *Caller, id string) (registry.Entry, error) {
	e, err := s.cfg.Entries.Get(ctx, id)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return registry.Entry{}, ErrEntryNotServed
	case err != nil:
		return registry.Entry{}, fmt.Errorf("nodes: entry %q: %w", id, err)
	case e.ParentID.IsZero() && !e.AnyAgent:
		return registry.Entry{}, ErrEntryNotServed // served by no agent
	case !e.ParentID.IsZero() && e.ParentID != c.Agent.SPIFFEID:
		return registry.Entry{}, ErrEntryNotServed
	case e.Status != registry.StatusActive:
		return registry.Entry{}, &InactiveError{EntryID: e.ID, Status: string(e.Status)}
	}
	return e, nil
}

// itemError reports whether err refuses one request of a batch rather
// than the whole batch.
func itemError(err error) bool {
	return errors.Is(err, ErrEntryNotServed) || errors.Is(err, ErrEntryInactive) || errors.Is(err, ErrRevokedRecently) ||
		errors.Is(err, ca.ErrInvalidCSR) || errors.Is(err, ca.ErrUnsupportedKey)
}

// refuseSVID records a refused issuance caused by the request; internal
// failures are left to the caller's log.
func (s *Service) refuseSVID(ctx context.Context, c *Caller, typ, entryID string, cause error) {
	if !itemError(cause) {
		return
	}
	_ = s.record(ctx, audit.Event{
		Type: typ, Actor: c.Actor, Target: entryID, Action: "mint", Outcome: audit.OutcomeDenied, Reason: cause.Error(),
	})
}

// validFrom returns the earliest start of validity that an SVID for the
// SPIFFE ID may have so that a recent revocation of that ID (which cuts off
// credentials issued at or before a second) does not cover it: zero when
// there is none within the CA's backdating window, else the first second
// after the cut-off. A revocation in the current second has no such start
// yet: ErrRevokedRecently, and the agent retries a moment later.
func (s *Service) validFrom(id string) (time.Time, error) {
	now := s.cfg.Clock().Truncate(time.Second)
	const window = 15 * time.Second // wider than the CA's backdating
	if !s.cfg.Revocations.Revoked(revocation.KindSPIFFEID, id, now.Add(-window)) {
		return time.Time{}, nil
	}
	for t := now.Add(-window + time.Second); !t.After(now); t = t.Add(time.Second) {
		if !s.cfg.Revocations.Revoked(revocation.KindSPIFFEID, id, t) {
			return t, nil
		}
	}
	return time.Time{}, ErrRevokedRecently
}
