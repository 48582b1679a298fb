package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// CreateAdminCredential stores c. It returns [ErrConflict] if a credential
// with c.ID exists.
func (q queries) CreateAdminCredential(ctx context.Context, c AdminCredential) error {
	ok, err := q.execOne(ctx, `INSERT INTO admin_credentials (id, hash, name, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, c.ID, bytesArg(c.Hash), c.Name, timeArg(c.CreatedAt))
	if err == nil && !ok {
		err = ErrConflict
	}
	if err != nil {
		return fmt.Errorf("store: create admin credential %q: %w", c.ID, err)
	}
	return nil
}

// GetAdminCredential returns the credential with the given ID, or
// [ErrNotFound].
func (q queries) GetAdminCredential(ctx context.Context, id string) (AdminCredential, error) {
	var c AdminCredential
	err := q.queryRow(ctx, `SELECT id, hash, name, created_at FROM admin_credentials WHERE id = ?`, id).
		Scan(&c.ID, bytesCol{&c.Hash}, &c.Name, timeCol{&c.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return AdminCredential{}, fmt.Errorf("store: get admin credential %q: %w", id, err)
	}
	return c, nil
}

// CountAdminCredentials returns how many admin credentials are stored.
func (q queries) CountAdminCredentials(ctx context.Context) (int, error) {
	var n int
	if err := q.queryRow(ctx, `SELECT count(*) FROM admin_credentials`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count admin credentials: %w", err)
	}
	return n, nil
}
