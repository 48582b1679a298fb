package oauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/store"
)

// CreateClient validates spec and stores a new client bound to its entry.
// For a client_secret_basic or client_secret_post client it returns the
// client's first secret, which is never shown again; otherwise the Secret
// is zero. It returns a *ValidationError for bad input (an unknown entry, a
// scope beyond the entry's max scopes, an audience that is not an absolute
// URI, a malformed key, keys on a client that does not use them), or an
// error if the store or the ledger fails.
func (s *Service) CreateClient(ctx context.Context, actor audit.Actor, spec ClientSpec) (Client, Secret, error) {
	now := s.clock().UTC().Truncate(time.Microsecond)
	cl, err := s.validateSpec(ctx, spec, now)
	if err != nil {
		s.auditFailure(ctx, actor, audit.TypeOAuthClientCreated, "create", spec.EntryID, err)
		return Client{}, Secret{}, err
	}
	if cl.ID, err = newClientID(); err != nil {
		return Client{}, Secret{}, err
	}
	var secret Secret
	if cl.AuthMethod.usesSecret() {
		if secret, err = s.addSecret(cl, now); err != nil {
			return Client{}, Secret{}, err
		}
	}
	rec := cl.toStore()
	ev := adminEvent(actor, audit.TypeOAuthClientCreated, "create", string(cl.ID), map[string]string{
		"entry_id": cl.EntryID, "auth_method": string(cl.AuthMethod), "scope": strings.Join(cl.Scopes, " "),
		"audience": strings.Join(cl.Audiences, " "),
	})
	var held bool
	err = s.write(ctx, ev, func(tx *store.Tx) error {
		if err := tx.CreateOAuthClient(ctx, &rec); err != nil {
			return err
		}
		// A client of an entry that is not active starts with its tokens
		// held, like the entry's other clients (see EntryChanged).
		held, err = holdIfInactive(ctx, tx, cl.ID, cl.EntryID)
		return err
	})
	if err != nil {
		return Client{}, Secret{}, err
	}
	if held {
		s.revocationsWritten(ctx)
	}
	cl.Version = rec.Version
	s.clients.forget(cl.ID)
	return cl.Client, secret, nil
}

// validateSpec turns a spec into a client record without ID or secret.
func (s *Service) validateSpec(ctx context.Context, spec ClientSpec, now time.Time) (*clientRecord, error) {
	if spec.EntryID == "" {
		return nil, invalidField("entry_id", "required")
	}
	method, err := ParseAuthMethod(spec.AuthMethod)
	if err != nil {
		return nil, err
	}
	entry, err := s.cfg.Registry.Get(ctx, spec.EntryID)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, invalidField("entry_id", "no entry %q", truncate(spec.EntryID))
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: read entry: %w", err)
	}
	scopes, err := parseScopeList("scopes", spec.Scopes)
	if err != nil {
		return nil, err
	}
	for _, sc := range scopes {
		if !slices.Contains(entry.MaxScopes, sc) {
			return nil, invalidField("scopes", "scope %q is not among the max scopes of entry %s", sc, entry.ID)
		}
	}
	aud, err := parseAudiences(spec.Audiences)
	if err != nil {
		return nil, err
	}
	if len(spec.Description) > maxDescription || !utf8.ValidString(spec.Description) {
		return nil, invalidField("description", "at most %d bytes of UTF-8", maxDescription)
	}
	if len(spec.Keys) > 0 && method != AuthPrivateKeyJWT {
		return nil, invalidField("keys", "only private_key_jwt clients have keys")
	}
	cl := &clientRecord{Client: Client{EntryID: entry.ID, AuthMethod: method, Scopes: scopes, Audiences: aud,
		Description: spec.Description, CreatedAt: now, UpdatedAt: now}}
	for _, raw := range spec.Keys {
		if err := cl.addKey(raw, now); err != nil {
			return nil, err
		}
	}
	return cl, nil
}

// addKey adds a public JWK to a client.
func (c *clientRecord) addKey(raw []byte, now time.Time) error {
	if len(c.Keys) >= maxKeys {
		return invalidField("jwk", "a client holds at most %d keys", maxKeys)
	}
	jwk, canon, err := parseClientKey(raw)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(c.Keys, func(k KeyInfo) bool { return k.KeyID == jwk.KeyID }) {
		return fmt.Errorf("key %q is registered: %w", jwk.KeyID, ErrConflict)
	}
	c.Keys = append(c.Keys, KeyInfo{KeyID: jwk.KeyID, JWK: json.RawMessage(canon), CreatedAt: now})
	return nil
}

// addSecret generates a secret, adds its hash to c and returns it.
func (s *Service) addSecret(c *clientRecord, now time.Time) (Secret, error) {
	sec, err := NewSecret()
	if err != nil {
		return Secret{}, err
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Secret{}, fmt.Errorf("oauth: secret id: %w", err)
	}
	c.Secrets = append(c.Secrets, SecretInfo{ID: hex.EncodeToString(id[:]), CreatedAt: now})
	c.hashes = append(c.hashes, secretHash{hash: sec.Hash()})
	return sec, nil
}

// GetClient returns the client id, or an error wrapping [ErrNotFound].
func (s *Service) GetClient(ctx context.Context, id ClientID) (Client, error) {
	rec, err := s.cfg.Clients.GetOAuthClient(ctx, string(id))
	if err != nil {
		return Client{}, mapStoreErr(err)
	}
	cl, err := fromStore(rec)
	if err != nil {
		return Client{}, err
	}
	return cl.Client, nil
}

// ListClients returns one page of clients in ID order and the cursor of
// the next page, empty when there is none. It returns the store's error.
func (s *Service) ListClients(ctx context.Context, f ClientFilter) ([]Client, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	recs, err := s.cfg.Clients.ListOAuthClients(ctx, store.OAuthClientFilter{EntryID: f.EntryID, After: f.After, Limit: limit})
	if err != nil {
		return nil, "", fmt.Errorf("oauth: list clients: %w", err)
	}
	out := make([]Client, 0, len(recs))
	for _, rec := range recs {
		cl, err := fromStore(rec)
		if err != nil {
			return nil, "", err
		}
		out = append(out, cl.Client)
	}
	next := ""
	if len(out) == limit {
		next = string(out[len(out)-1].ID)
	}
	return out, next, nil
}

// DeleteClient removes the client and revokes every token issued to it
// (a hold of its tokens becomes a revocation that expires with them). It
// returns an error wrapping [ErrNotFound], or the store's, the revocation
// set's or the ledger's error.
func (s *Service) DeleteClient(ctx context.Context, actor audit.Actor, id ClientID) error {
	ev := adminEvent(actor, audit.TypeOAuthClientDeleted, "delete", string(id), nil)
	now := s.clock()
	var lifted bool
	err := s.write(ctx, ev, func(tx *store.Tx) error {
		if err := tx.DeleteOAuthClient(ctx, string(id)); err != nil {
			return err
		}
		var err error
		lifted, err = tx.LiftRevocation(ctx, kindClient.String(), string(id), now, liftExpiry(now))
		return err
	})
	if err != nil {
		return err
	}
	if lifted {
		s.revocationsWritten(ctx)
	}
	s.clients.forget(id)
	return s.revokeClient(ctx, id, "client deleted")
}

// RevokeTokens revokes every token issued to the client so far; tokens it
// obtains afterwards are valid. It returns an error wrapping [ErrNotFound],
// or the revocation set's or the ledger's error.
func (s *Service) RevokeTokens(ctx context.Context, actor audit.Actor, id ClientID, reason string) error {
	if _, err := s.GetClient(ctx, id); err != nil {
		return err
	}
	if reason == "" {
		reason = "revoked by an administrator"
	}
	if err := s.revokeClient(ctx, id, truncateReason(reason)); err != nil {
		return err
	}
	ev := adminEvent(actor, audit.TypeOAuthClientTokensRevoked, "revoke", string(id), map[string]string{"reason": truncateReason(reason)})
	if _, err := s.cfg.Auditor.Record(ctx, ev); err != nil {
		return fmt.Errorf("oauth: record %s: %w", ev.Type, err)
	}
	return nil
}

// revokeClient puts the client's ID in the revocation set until every
// token issued so far has expired.
func (s *Service) revokeClient(ctx context.Context, id ClientID, reason string) error {
	now := s.clock()
	_, err := s.cfg.Revocations.Revoke(ctx, revocation.Entry{Kind: kindClient, Value: string(id), RevokedAt: now,
		ExpiresAt: now.Add(maxTokenTTL + clockSkew), Reason: reason})
	if err != nil {
		return fmt.Errorf("oauth: revoke tokens of %s: %w", id, err)
	}
	return nil
}

// mapStoreErr maps the store's sentinels to the package's.
func mapStoreErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return fmt.Errorf("oauth: store: %w", err)
}

// adminEvent is the event of a successful client management action.
func adminEvent(actor audit.Actor, typ, action, target string, details map[string]string) audit.Event {
	return audit.Event{Type: typ, Actor: actor, Target: truncate(target), Action: action, Outcome: audit.OutcomeSuccess, Details: details}
}

// write runs fn, a client change, in a store transaction with ev, its
// audit event (see ledger.WriteAudited). It returns fn's error mapped to
// the package's sentinels, or the ledger's.
func (s *Service) write(ctx context.Context, ev audit.Event, fn func(tx *store.Tx) error) error {
	return ledger.WriteAudited(ctx, s.cfg.Clients, s.cfg.Auditor, func(tx *store.Tx) (audit.Event, error) {
		if err := fn(tx); err != nil {
			return ev, mapStoreErr(err)
		}
		return ev, nil
	})
}

// auditFailure records a client management action that failed (whose
// recording error is not returned: the caller fails already).
func (s *Service) auditFailure(ctx context.Context, actor audit.Actor, typ, action, target string, cause error) {
	ev := adminEvent(actor, typ, action, target, nil)
	ev.Outcome, ev.Reason = audit.OutcomeFailure, "internal error"
	var ve *ValidationError
	if errors.As(cause, &ve) || errors.Is(cause, ErrNotFound) || errors.Is(cause, ErrConflict) {
		ev.Reason = cause.Error()
	}
	_, _ = s.cfg.Auditor.Record(ctx, ev)
}
