package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OAuthClient is a stored OAuth client with its secrets (as hashes) and
// its public keys. Package oauth owns its meaning and validation.
type OAuthClient struct {
	ID          string
	EntryID     string // the registry entry the client acts for
	AuthMethod  string
	Scopes      []string
	Audiences   []string
	Description string
	// Secrets are read back in CreatedAt order, then by ID.
	Secrets []OAuthClientSecret
	// Keys are read back in KeyID order (bytewise).
	Keys      []OAuthClientKey
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version is set by the store: 1 on create, one more on each update.
	// Callers pass the version they read to UpdateOAuthClient for
	// optimistic concurrency.
	Version int64
}

// OAuthClientSecret is the SHA-256 hash of one client secret.
type OAuthClientSecret struct {
	ID        string
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

// OAuthClientKey is one public key of a client, as a JWK.
type OAuthClientKey struct {
	KeyID     string
	JWK       []byte // the public JWK's JSON
	CreatedAt time.Time
}

// OAuthClientFilter narrows ListOAuthClients. Empty fields match everything.
type OAuthClientFilter struct {
	EntryID string
	// After is the ID of the last client of the previous page; clients are
	// returned in ID order.
	After string
	// Limit caps the page size; zero means 100, and it is capped at 1000.
	Limit int
}

const oauthClientColumns = `id, entry_id, auth_method, scopes, audiences, description, created_at, updated_at, version`

// CreateOAuthClient stores c with its secrets and keys, and sets c.Version
// to 1. It returns [ErrConflict] if a client with c.ID exists or if two of
// its secrets or keys share an ID.
func (q queries) CreateOAuthClient(ctx context.Context, c *OAuthClient) error {
	if c == nil {
		return errors.New("store: create oauth client: nil client")
	}
	scopes, audiences, err := oauthClientLists(c)
	if err != nil {
		return fmt.Errorf("store: create oauth client %q: %w", c.ID, err)
	}
	err = q.atomic(ctx, func(q queries) error {
		_, err := q.exec(ctx, `INSERT INTO oauth_clients (`+oauthClientColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)`,
			c.ID, c.EntryID, c.AuthMethod, scopes, audiences, c.Description, timeArg(c.CreatedAt), timeArg(c.UpdatedAt))
		if isUniqueViolation(err) {
			return ErrConflict
		}
		if err != nil {
			return err
		}
		return q.insertOAuthClientParts(ctx, c)
	})
	if err != nil {
		return fmt.Errorf("store: create oauth client %q: %w", c.ID, err)
	}
	c.Version = 1
	return nil
}

// GetOAuthClient returns the client with the given ID, with its secrets and
// keys, or [ErrNotFound].
func (q queries) GetOAuthClient(ctx context.Context, id string) (OAuthClient, error) {
	row := q.queryRow(ctx, `SELECT `+oauthClientColumns+` FROM oauth_clients WHERE id = ?`, id)
	c, err := scanOAuthClient(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err == nil {
		err = q.loadOAuthClientParts(ctx, &c)
	}
	if err != nil {
		return OAuthClient{}, fmt.Errorf("store: get oauth client %q: %w", id, err)
	}
	return c, nil
}

// ListOAuthClients returns one page of the clients matching f, with their
// secrets and keys, in ID order (bytewise): those with an ID after f.After,
// at most f.Limit of them (100 when zero, never more than 1000). An empty
// page means there are no more.
func (q queries) ListOAuthClients(ctx context.Context, f OAuthClientFilter) ([]OAuthClient, error) {
	var w where
	w.addIf("entry_id = ?", f.EntryID)
	w.addIf("id > ?", f.After)
	rows, err := q.query(ctx, `SELECT `+oauthClientColumns+` FROM oauth_clients`+w.String()+` ORDER BY id LIMIT ?`,
		append(w.args, pageSize(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("store: list oauth clients: %w", err)
	}
	var out []OAuthClient
	for rows.Next() {
		c, err := scanOAuthClient(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: list oauth clients: %w", err)
		}
		out = append(out, c)
	}
	err = rows.Err()
	rows.Close() // before the next queries: a Tx has one connection
	if err != nil {
		return nil, fmt.Errorf("store: list oauth clients: %w", err)
	}
	for i := range out {
		if err := q.loadOAuthClientParts(ctx, &out[i]); err != nil {
			return nil, fmt.Errorf("store: list oauth clients: %w", err)
		}
	}
	return out, nil
}

// FindOAuthClientSecret returns the ID of the client that holds a secret
// with the given hash, and the secret's ID, or [ErrNotFound]. The hash is
// of a high-entropy secret, so that the lookup, unlike a comparison with
// the secret, tells a caller nothing about secrets it does not hold. No
// index serves it: it is a scan of the secrets table, fit for the rare,
// rate-limited leak checks that call it (an index is one migration away
// if that changes).
func (q queries) FindOAuthClientSecret(ctx context.Context, hash []byte) (clientID, secretID string, err error) {
	err = q.queryRow(ctx, `SELECT client_id, id FROM oauth_client_secrets WHERE hash = ? ORDER BY client_id, id LIMIT 1`,
		bytesArg(hash)).Scan(&clientID, &secretID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNotFound
	}
	if err != nil {
		return "", "", fmt.Errorf("store: find oauth client secret: %w", err)
	}
	return clientID, secretID, nil
}

// UpdateOAuthClient replaces the stored client with ID c.ID by c, all
// fields but CreatedAt, which keeps its stored value and is copied back into
// c; its secrets and keys become exactly c.Secrets and c.Keys. It is an
// optimistic write: c.Version must be the version last read. On success
// c.Version is set to the new version.
//
// It returns [ErrNotFound] if no client has c.ID, and [ErrConflict] if the
// stored version differs from c.Version or two secrets or keys share an ID.
func (q queries) UpdateOAuthClient(ctx context.Context, c *OAuthClient) error {
	if c == nil {
		return errors.New("store: update oauth client: nil client")
	}
	scopes, audiences, err := oauthClientLists(c)
	if err != nil {
		return fmt.Errorf("store: update oauth client %q: %w", c.ID, err)
	}
	var created time.Time
	err = q.atomic(ctx, func(q queries) error {
		err := q.queryRow(ctx, `UPDATE oauth_clients SET entry_id = ?, auth_method = ?, scopes = ?, audiences = ?,
			description = ?, updated_at = ?, version = version + 1
			WHERE id = ? AND version = ?
			RETURNING created_at`,
			c.EntryID, c.AuthMethod, scopes, audiences, c.Description, timeArg(c.UpdatedAt),
			c.ID, c.Version).Scan(timeCol{&created})
		if errors.Is(err, sql.ErrNoRows) {
			return q.whyOAuthClientNotUpdated(ctx, c)
		}
		if err != nil {
			return err
		}
		for _, table := range [...]string{"oauth_client_secrets", "oauth_client_keys"} {
			if _, err := q.exec(ctx, `DELETE FROM `+table+` WHERE client_id = ?`, c.ID); err != nil {
				return err
			}
		}
		return q.insertOAuthClientParts(ctx, c)
	})
	if err != nil {
		return fmt.Errorf("store: update oauth client %q: %w", c.ID, err)
	}
	c.Version++
	c.CreatedAt = created
	return nil
}

func (q queries) whyOAuthClientNotUpdated(ctx context.Context, c *OAuthClient) error {
	var stored int64
	err := q.queryRow(ctx, `SELECT version FROM oauth_clients WHERE id = ?`, c.ID).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("version %d is not the stored %d: %w", c.Version, stored, ErrConflict)
}

// DeleteOAuthClient removes the client with the given ID, with its secrets
// and keys. It returns [ErrNotFound] if there is none.
func (q queries) DeleteOAuthClient(ctx context.Context, id string) error {
	err := q.atomic(ctx, func(q queries) error {
		// Children first, so that the delete does not depend on the
		// back end enforcing the foreign keys' cascade.
		for _, table := range [...]string{"oauth_client_secrets", "oauth_client_keys"} {
			if _, err := q.exec(ctx, `DELETE FROM `+table+` WHERE client_id = ?`, id); err != nil {
				return err
			}
		}
		ok, err := q.execOne(ctx, `DELETE FROM oauth_clients WHERE id = ?`, id)
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete oauth client %q: %w", id, err)
	}
	return nil
}

// insertOAuthClientParts inserts c's secrets and keys.
func (q queries) insertOAuthClientParts(ctx context.Context, c *OAuthClient) error {
	for _, s := range c.Secrets {
		_, err := q.exec(ctx, `INSERT INTO oauth_client_secrets (client_id, id, hash, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?)`, c.ID, s.ID, bytesArg(s.Hash), timeArg(s.CreatedAt), timeArg(s.ExpiresAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("secret %q twice: %w", s.ID, ErrConflict)
		}
		if err != nil {
			return err
		}
	}
	for _, k := range c.Keys {
		_, err := q.exec(ctx, `INSERT INTO oauth_client_keys (client_id, kid, jwk, created_at)
			VALUES (?, ?, ?, ?)`, c.ID, k.KeyID, bytesArg(k.JWK), timeArg(k.CreatedAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("key %q twice: %w", k.KeyID, ErrConflict)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// loadOAuthClientParts reads c's secrets and keys.
func (q queries) loadOAuthClientParts(ctx context.Context, c *OAuthClient) error {
	rows, err := q.query(ctx, `SELECT id, hash, created_at, expires_at FROM oauth_client_secrets
		WHERE client_id = ? ORDER BY created_at, id`, c.ID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var s OAuthClientSecret
		if err := rows.Scan(&s.ID, bytesCol{&s.Hash}, timeCol{&s.CreatedAt}, timeCol{&s.ExpiresAt}); err != nil {
			rows.Close()
			return err
		}
		c.Secrets = append(c.Secrets, s)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return err
	}
	rows, err = q.query(ctx, `SELECT kid, jwk, created_at FROM oauth_client_keys
		WHERE client_id = ? ORDER BY kid`, c.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k OAuthClientKey
		if err := rows.Scan(&k.KeyID, bytesCol{&k.JWK}, timeCol{&k.CreatedAt}); err != nil {
			return err
		}
		c.Keys = append(c.Keys, k)
	}
	return rows.Err()
}

func oauthClientLists(c *OAuthClient) (scopes, audiences string, err error) {
	if scopes, err = stringsArg(c.Scopes); err != nil {
		return "", "", err
	}
	audiences, err = stringsArg(c.Audiences)
	return scopes, audiences, err
}

func scanOAuthClient(s scanner) (OAuthClient, error) {
	var c OAuthClient
	err := s.Scan(&c.ID, &c.EntryID, &c.AuthMethod, jsonCol[[]string]{&c.Scopes}, jsonCol[[]string]{&c.Audiences},
		&c.Description, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}, &c.Version)
	return c, err
}
