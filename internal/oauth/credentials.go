package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kith-dev/kith/internal/ledger"
)

// maxUpdateAttempts bounds the read-modify-write retries of a credential
// change that races with another.
const maxUpdateAttempts = 5

// update reads client id, applies change and writes it back, retrying when
// another writer got there first.
func (s *Service) update(ctx context.Context, id ClientID, change func(c *clientRecord, now time.Time) error) (*clientRecord, error) {
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
		err = s.cfg.Clients.UpdateOAuthClient(ctx, &out)
		if err == nil {
			cl.Version = out.Version
			s.clients.forget(id)
			return cl, nil
		}
		if err = mapStoreErr(err); !errors.Is(err, ErrConflict) || attempt == maxUpdateAttempts {
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
func (s *Service) RotateSecret(ctx context.Context, actor ledger.Actor, id ClientID, overlap time.Duration) (Client, Secret, error) {
	if overlap < 0 || overlap > MaxSecretOverlap {
		return Client{}, Secret{}, invalidField("overlap", "must be between 0 and %v", MaxSecretOverlap)
	}
	var secret Secret
	cl, err := s.update(ctx, id, func(c *clientRecord, now time.Time) error {
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
	})
	if err != nil {
		s.auditAdmin(ctx, actor, "oauth.client.secret_rotated", "rotate", string(id), err, nil)
		return Client{}, Secret{}, err
	}
	err = s.auditAdmin(ctx, actor, "oauth.client.secret_rotated", "rotate", string(id), nil,
		map[string]string{"secret_id": cl.Secrets[len(cl.Secrets)-1].ID, "overlap": overlap.String()})
	return cl.Client, secret, err
}

// AddKey registers a public JWK with a private_key_jwt client. It returns
// an error wrapping [ErrNotFound], [ErrConflict] if the client has a key
// with the same kid, a *ValidationError for a bad key or a client of
// another method, or the store's or the ledger's error.
func (s *Service) AddKey(ctx context.Context, actor ledger.Actor, id ClientID, jwk []byte) (Client, error) {
	var kid string
	cl, err := s.update(ctx, id, func(c *clientRecord, now time.Time) error {
		if c.AuthMethod != AuthPrivateKeyJWT {
			return invalidField("auth_method", "only private_key_jwt clients have keys")
		}
		if err := c.addKey(jwk, now); err != nil {
			return err
		}
		kid = c.Keys[len(c.Keys)-1].KeyID
		return nil
	})
	if err != nil {
		s.auditAdmin(ctx, actor, "oauth.client.key_added", "update", string(id), err, nil)
		return Client{}, err
	}
	return cl.Client, s.auditAdmin(ctx, actor, "oauth.client.key_added", "update", string(id), nil, map[string]string{"kid": kid})
}

// RemoveKey removes the key kid from a client. Assertions signed with it
// are refused from then on. It returns an error wrapping [ErrNotFound] if
// there is no such client or key, or the store's or the ledger's error.
func (s *Service) RemoveKey(ctx context.Context, actor ledger.Actor, id ClientID, kid string) (Client, error) {
	cl, err := s.update(ctx, id, func(c *clientRecord, now time.Time) error {
		i := slices.IndexFunc(c.Keys, func(k KeyInfo) bool { return k.KeyID == kid })
		if i < 0 {
			return fmt.Errorf("key %q: %w", truncate(kid), ErrNotFound)
		}
		c.Keys = slices.Delete(c.Keys, i, i+1)
		return nil
	})
	if err != nil {
		s.auditAdmin(ctx, actor, "oauth.client.key_removed", "update", string(id), err, nil)
		return Client{}, err
	}
	return cl.Client, s.auditAdmin(ctx, actor, "oauth.client.key_removed", "update", string(id), nil, map[string]string{"kid": kid})
}
