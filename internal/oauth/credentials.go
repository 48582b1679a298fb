package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

// maxUpdateAttempts bounds the read-modify-write retries of a credential
// change that races with another.
const maxUpdateAttempts = 5

// update reads client id, applies change and writes it back with the
// event typ of the action (its details from the changed client) in one
// transaction, retrying when another writer got there first. A failure
// is recorded as such.
func (s *Service) update(ctx context.Context, actor audit.Actor, id ClientID, typ, action string,
	change func(c *clientRecord, now time.Time) error, details func(c *clientRecord) map[string]string) (*clientRecord, error) {
	cl, err := s.tryUpdate(ctx, actor, id, typ, action, change, details)
	if err != nil {
		s.auditFailure(ctx, actor, typ, action, string(id), err)
		return nil, err
	}
	return cl, nil
}

func (s *Service) tryUpdate(ctx context.Context, actor audit.Actor, id ClientID, typ, action string,
	change func(c *clientRecord, now time.Time) error, details func(c *clientRecord) map[string]string) (*clientRecord, error) {
	for attempt := 0; ; attempt++ {
		rec, err := s.cfg.Clients.GetOAuthClient(ctx, string(id))
		if err != nil {
			return nil, mapStoreErr(err)
		}
		cl, err := fromStore(rec)
		if err != nil {
			return nil, err
		}
		now := s.clock().UTC().Truncate(time.Microsecond)
		if err := change(cl, now); err != nil {
			return nil, err
		}
		cl.UpdatedAt = now
		out := cl.toStore()
		ev := adminEvent(actor, typ, action, string(id), details(cl))
		err = s.write(ctx, ev, func(tx *store.Tx) error { return tx.UpdateOAuthClient(ctx, &out) })
		if err == nil {
			cl.Version = out.Version
			s.clients.forget(id)
			return cl, nil
		}
		if !errors.Is(err, ErrConflict) || attempt == maxUpdateAttempts {
			return nil, err
		}
	}
}

// RotateSecret gives a client_secret_basic or client_secret_post client a
// new secret, returned once. The secrets it held stay valid for overlap
// (capped at [MaxSecretOverlap]; zero ends them at once) and are removed
// at the next rotation after that. It returns an error wrapping
// [ErrNotFound], a *ValidationError for a client without secrets or a
// negative overlap, or the store's or the ledger's error.
func (s *Service) RotateSecret(ctx context.Context, actor audit.Actor, id ClientID, overlap time.Duration) (Client, Secret, error) {
	if overlap < 0 || overlap > MaxSecretOverlap {
		return Client{}, Secret{}, invalidField("overlap", "must be between 0 and %v", MaxSecretOverlap)
	}
	var secret Secret
	cl, err := s.update(ctx, actor, id, audit.TypeOAuthClientSecretRotated, "rotate", func(c *clientRecord, now time.Time) error {
		if !c.AuthMethod.usesSecret() {
			return invalidField("auth_method", "a %s client has no secret", c.AuthMethod)
		}
		end := now.Add(overlap)
		// Drop secrets already dead; end the others at now+overlap.
		keep := c.Secrets[:0]
		hashes := c.hashes[:0]
		for i, sec := range c.Secrets {
			if !sec.ExpiresAt.IsZero() && !now.Before(sec.ExpiresAt) {
				continue
			}
			if sec.ExpiresAt.IsZero() || end.Before(sec.ExpiresAt) {
				sec.ExpiresAt = end
			}
			keep = append(keep, sec)
			hashes = append(hashes, secretHash{hash: c.hashes[i].hash, expires: sec.ExpiresAt})
		}
		c.Secrets, c.hashes = keep, hashes
		if overlap == 0 {
			c.Secrets, c.hashes = nil, nil
		}
		var err error
		secret, err = s.addSecret(c, now)
		return err
	}, func(c *clientRecord) map[string]string {
		return map[string]string{"secret_id": c.Secrets[len(c.Secrets)-1].ID, "overlap": overlap.String()}
	})
	if err != nil {
		return Client{}, Secret{}, err
	}
	return cl.Client, secret, nil
}

// AddKey registers a public JWK with a private_key_jwt client. It returns
// an error wrapping [ErrNotFound], [ErrConflict] if the client has a key
// with the same kid, a *ValidationError for a bad key or a client of
// another method, or the store's or the ledger's error.
func (s *Service) AddKey(ctx context.Context, actor audit.Actor, id ClientID, jwk []byte) (Client, error) {
	var kid string
	cl, err := s.update(ctx, actor, id, audit.TypeOAuthClientKeyAdded, "update", func(c *clientRecord, now time.Time) error {
		if c.AuthMethod != AuthPrivateKeyJWT {
			return invalidField("auth_method", "only private_key_jwt clients have keys")
		}
		if err := c.addKey(jwk, now); err != nil {
			return err
		}
		kid = c.Keys[len(c.Keys)-1].KeyID
		return nil
	}, func(*clientRecord) map[string]string { return map[string]string{"kid": kid} })
	if err != nil {
		return Client{}, err
	}
	return cl.Client, nil
}

// RemoveKey removes the key kid from a client. Assertions signed with it
// are refused from then on. It returns an error wrapping [ErrNotFound] if
// there is no such client or key, or the store's or the ledger's error.
func (s *Service) RemoveKey(ctx context.Context, actor audit.Actor, id ClientID, kid string) (Client, error) {
	cl, err := s.update(ctx, actor, id, audit.TypeOAuthClientKeyRemoved, "update", func(c *clientRecord, now time.Time) error {
		i := slices.IndexFunc(c.Keys, func(k KeyInfo) bool { return k.KeyID == kid })
		if i < 0 {
			return fmt.Errorf("key %q: %w", truncate(kid), ErrNotFound)
		}
		c.Keys = slices.Delete(c.Keys, i, i+1)
		return nil
	}, func(*clientRecord) map[string]string { return map[string]string{"kid": kid} })
	if err != nil {
		return Client{}, err
	}
	return cl.Client, nil
}
