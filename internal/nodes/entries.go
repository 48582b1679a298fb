package nodes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
)

// EntryRevocation is the result of revoking an entry's credentials.
type EntryRevocation struct {
	Entry registry.Entry
	// RevokedAt is the cut-off: credentials of the entry's SPIFFE ID
	// issued at or before it are revoked.
	RevokedAt time.Time
	// ExpiresAt is when the revocation may be forgotten: every credential
	// it covers has expired by then.
	ExpiresAt time.Time
}

// statusRetries bounds the read-modify-write retries of a status change
// that races with other updates of the entry.
const statusRetries = 3

// RevokeEntry revokes every credential of the entry's SPIFFE ID issued
// until now (a revocation set entry of kind spiffe_id lasting as long as
// any SVID can), records "entry.revoked" and signals the change. The entry
// stays active: its workloads obtain fresh credentials through their
// agent. Note that the revocation covers every entry with the same SPIFFE
// ID.
//
// It returns registry.ErrNotFound, or the revocation set's or ledger's
// error.
func (s *Service) RevokeEntry(ctx context.Context, actor audit.Actor, id string) (*EntryRevocation, error) {
	e, err := s.cfg.Entries.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.revokeEntry(ctx, actor, e, audit.TypeEntryRevoked, "revoke", "entry revoked")
}

// QuarantineEntry sets the entry's status to quarantined, so that no
// credential is issued for it any more, then revokes its current
// credentials as [Service.RevokeEntry] does and records
// "entry.quarantined". A quarantined entry stays so until
// [Service.ReleaseEntry].
//
// It returns registry.ErrNotFound, registry.ErrConflict if the entry kept
// changing under it, or the registry's, revocation set's or ledger's error.
func (s *Service) QuarantineEntry(ctx context.Context, actor audit.Actor, id string) (*EntryRevocation, error) {
	e, err := s.setStatus(ctx, actor, id, registry.StatusQuarantined)
	if err != nil {
		return nil, err
	}
	return s.revokeEntry(ctx, actor, e, audit.TypeEntryQuarantined, "quarantine", "entry quarantined")
}

// ReleaseEntry sets a quarantined or disabled entry's status back to
// active, so that credentials are issued for it again, and records
// "entry.released". Credentials revoked before stay revoked.
//
// It returns registry.ErrNotFound, registry.ErrConflict if the entry kept
// changing under it, or the registry's or ledger's error.
func (s *Service) ReleaseEntry(ctx context.Context, actor audit.Actor, id string) (registry.Entry, error) {
	e, err := s.setStatus(ctx, actor, id, registry.StatusActive)
	if err != nil {
		return registry.Entry{}, err
	}
	if err := s.record(ctx, audit.Event{
		Type: audit.TypeEntryReleased, Actor: actor, Target: e.ID, Action: "release", Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"spiffe_id": e.SPIFFEID.String()},
	}); err != nil {
		return registry.Entry{}, err
	}
	return e, nil
}

// setStatus changes the entry's status through the registry, retrying a
// few times if the entry changed between read and write.
func (s *Service) setStatus(ctx context.Context, actor audit.Actor, id string, st registry.Status) (registry.Entry, error) {
	var err error
	for range statusRetries {
		var e registry.Entry
		if e, err = s.cfg.Entries.Get(ctx, id); err != nil {
			return registry.Entry{}, err
		}
		if e.Status == st {
			return e, nil
		}
		spec := e.Spec()
		spec.Status = string(st)
		if e, err = s.cfg.Entries.Update(ctx, actor, id, spec); err == nil {
			return e, nil
		}
		if !errors.Is(err, registry.ErrConflict) {
			return registry.Entry{}, err
		}
	}
	return registry.Entry{}, err
}

func (s *Service) revokeEntry(ctx context.Context, actor audit.Actor, e registry.Entry, typ, action, reason string) (*EntryRevocation, error) {
	now := s.now()
	defer s.cfg.Changed()
	rev, err := s.cfg.Revocations.Revoke(ctx, revocation.Entry{
		Kind: revocation.KindSPIFFEID, Value: e.SPIFFEID.String(), RevokedAt: now,
		ExpiresAt: now.Add(s.cfg.MaxSVIDTTL), Reason: reason,
	})
	if err != nil {
		return nil, fmt.Errorf("nodes: revoke entry %s: %w", e.ID, err)
	}
	if err := s.record(ctx, audit.Event{
		Type: typ, Actor: actor, Target: e.ID, Action: action, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"spiffe_id": e.SPIFFEID.String(), "revoked_at": rev.RevokedAt.UTC().Format(time.RFC3339),
			"status": string(e.Status)},
	}); err != nil {
		return nil, err
	}
	return &EntryRevocation{Entry: e, RevokedAt: rev.RevokedAt, ExpiresAt: rev.ExpiresAt}, nil
}
