package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

const federationColumns = `trust_domain, bundle_endpoint_url, profile, endpoint_spiffe_id, bundle, sequence,
	last_refresh, next_refresh, last_error, created_at, updated_at`

// PutFederation creates or replaces the federation relationship with
// f.TrustDomain. When one exists, its CreatedAt is kept and f.CreatedAt is
// ignored. Sequence is stored as its two's-complement int64 and reads back
// unchanged.
func (q queries) PutFederation(ctx context.Context, f Federation) error {
	_, err := q.exec(ctx, `INSERT INTO federations (`+federationColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (trust_domain) DO UPDATE SET
			bundle_endpoint_url = excluded.bundle_endpoint_url,
			profile = excluded.profile,
			endpoint_spiffe_id = excluded.endpoint_spiffe_id,
			bundle = excluded.bundle,
			sequence = excluded.sequence,
			last_refresh = excluded.last_refresh,
			next_refresh = excluded.next_refresh,
			last_error = excluded.last_error,
			updated_at = excluded.updated_at`,
		f.TrustDomain, f.BundleEndpointURL, f.Profile, f.EndpointSPIFFEID, bytesArg(f.Bundle), int64(f.Sequence),
		timeArg(f.LastRefresh), timeArg(f.NextRefresh), f.LastError, timeArg(f.CreatedAt), timeArg(f.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store: put federation %q: %w", f.TrustDomain, err)
	}
	return nil
}

// GetFederation returns the federation relationship with trustDomain, or
// [ErrNotFound].
func (q queries) GetFederation(ctx context.Context, trustDomain string) (Federation, error) {
	row := q.queryRow(ctx, `SELECT `+federationColumns+` FROM federations WHERE trust_domain = ?`, trustDomain)
	f, err := scanFederation(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Federation{}, fmt.Errorf("store: get federation %q: %w", trustDomain, err)
	}
	return f, nil
}

// ListFederations returns every federation relationship, in TrustDomain
// order (bytewise).
func (q queries) ListFederations(ctx context.Context) ([]Federation, error) {
	rows, err := q.query(ctx, `SELECT `+federationColumns+` FROM federations ORDER BY trust_domain`)
	if err != nil {
		return nil, fmt.Errorf("store: list federations: %w", err)
	}
	defer rows.Close()
	var out []Federation
	for rows.Next() {
		f, err := scanFederation(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list federations: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list federations: %w", err)
	}
	return out, nil
}

// DeleteFederation removes the federation relationship with trustDomain.
// It returns [ErrNotFound] if there is none.
func (q queries) DeleteFederation(ctx context.Context, trustDomain string) error {
	ok, err := q.execOne(ctx, `DELETE FROM federations WHERE trust_domain = ?`, trustDomain)
	if err == nil && !ok {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: delete federation %q: %w", trustDomain, err)
	}
	return nil
}

func scanFederation(s scanner) (Federation, error) {
	var f Federation
	var seq int64
	err := s.Scan(&f.TrustDomain, &f.BundleEndpointURL, &f.Profile, &f.EndpointSPIFFEID, bytesCol{&f.Bundle}, &seq,
		timeCol{&f.LastRefresh}, timeCol{&f.NextRefresh}, &f.LastError, timeCol{&f.CreatedAt}, timeCol{&f.UpdatedAt})
	if err != nil {
		return Federation{}, err
	}
	f.Sequence = uint64(seq)
	return f, nil
}
