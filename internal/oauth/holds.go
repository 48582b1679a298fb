package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/store"
)

// A token is good only while its client's entry is active. Three things
// keep that true when an entry is quarantined, disabled or deleted:
//
//  1. In the transaction of the change, the tokens of the entry's clients
//     are held: each client's ID enters the revocation set with the cut-off
//     revocation.Held, covering every token issued until the entry is
//     active again, by any replica, whatever its clock (EntryChanged).
//     Verifiers (proxies, the SDK, introspection) refuse them as soon as
//     the signed set reaches them, in milliseconds. Releasing the entry
//     lifts the hold in its transaction: tokens issued before stay
//     revoked.
//  2. Issuance stops at once on the replica that made the change, and
//     within ChangePollInterval (at once with change notices) on the
//     others: EntriesChanged empties the cache of entries and clients, and
//     the change poll calls it when the store's change revision moves.
//  3. A token request that read the entry as active just before the
//     change is checked again before its token is returned (issue), and no
//     token is returned that the revocation set already covers.

// holdReason is the reason recorded with a hold.
func holdReason(e registry.Entry, deleted bool) string {
	if deleted {
		return "the client's entry " + e.ID + " was deleted"
	}
	return "the client's entry " + e.ID + " is " + string(e.Status)
}

// liftExpiry is when a lifted hold may be forgotten: every token it still
// covers, issued before the lift, has expired by then.
func liftExpiry(at time.Time) time.Time { return at.Add(maxTokenTTL + clockSkew) }

// EntryChanged implements registry.Hook. In the transaction of an entry's
// update or deletion it holds the tokens of the entry's clients while the
// entry is not active (or is deleted), and lifts the holds once it is
// active again. It returns the store's error, which rolls the change back.
func (s *Service) EntryChanged(ctx context.Context, tx *store.Tx, e registry.Entry, deleted bool) error {
	hold := deleted || e.Status != registry.StatusActive
	now := s.clock()
	after := ""
	for {
		page, err := tx.ListOAuthClients(ctx, store.OAuthClientFilter{EntryID: e.ID, After: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("oauth: clients of entry %s: %w", e.ID, err)
		}
		for _, c := range page {
			if hold {
				err = holdClient(ctx, tx, c.ID, holdReason(e, deleted))
			} else {
				_, err = tx.LiftRevocation(ctx, kindClient.String(), c.ID, now, liftExpiry(now))
			}
			if err != nil {
				return fmt.Errorf("oauth: tokens of client %s: %w", c.ID, err)
			}
		}
		if len(page) < 1000 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// holdClient holds the tokens of client id in tx.
func holdClient(ctx context.Context, tx *store.Tx, id, reason string) error {
	return tx.PutRevocation(ctx, &store.Revocation{Kind: kindClient.String(), Value: id,
		RevokedAt: revocation.Held(), Reason: reason})
}

// holdIfInactive holds the tokens of a client being created in tx if its
// entry is not active, reading the entry under a lock so that a status
// change of the entry cannot slip between this read and the commit. It
// reports whether it held them, or a *ValidationError if the entry is
// gone.
func holdIfInactive(ctx context.Context, tx *store.Tx, id ClientID, entryID string) (bool, error) {
	e, err := tx.LockEntry(ctx, entryID)
	if errors.Is(err, store.ErrNotFound) {
		return false, invalidField("entry_id", "no entry %q", truncate(entryID))
	}
	if err != nil {
		return false, err
	}
	if registry.Status(e.Status) == registry.StatusActive {
		return false, nil
	}
	return true, holdClient(ctx, tx, string(id), "the client's entry "+e.ID+" is "+e.Status)
}

// EntriesChanged tells the service that registry entries changed, on this
// replica or another: it forgets the clients and entries it cached, so
// that the next request reads them again, and a token being issued on the
// strength of an entry read before is checked again before it is
// returned. The server calls it after each entry change it commits and on
// each change notice of another replica; the change poll of Run calls it
// too. It does no I/O.
func (s *Service) EntriesChanged() { s.clients.invalidate() }

// revocationsWritten refreshes the revocation set after the service wrote
// to it in a transaction of its own, and tells Config.Changed.
func (s *Service) revocationsWritten(ctx context.Context) {
	if err := s.cfg.Revocations.Sync(ctx); err != nil {
		s.logger.WarnContext(ctx, "oauth: revocation sync after a hold; it is retried at the next sync", "error", err)
	}
	if s.cfg.Changed != nil {
		s.cfg.Changed()
	}
}

// CheckChanges reads Config.Changes' revision and, if it moved since the
// last check, forgets the cached clients and entries (EntriesChanged).
// Each successful check also vouches for the cache until two more checks
// of Run could have run: cached entries are not used past that, so a
// replica that cannot read the revision reads its entries from the store
// (and fails closed with it). The server calls it on each change notice
// of another replica; Run calls it every ChangePollInterval. It returns
// the store's error; without Config.Changes it does nothing.
func (s *Service) CheckChanges(ctx context.Context) error {
	if s.cfg.Changes == nil {
		return nil
	}
	start := s.clock()
	rev, err := s.cfg.Changes.Revision(ctx)
	if err != nil {
		return fmt.Errorf("oauth: read the change revision: %w", err)
	}
	if s.changeRev.Swap(rev) != rev {
		s.EntriesChanged()
	}
	s.clients.vouch(start.Add(2 * s.cfg.ChangePollInterval))
	return nil
}
