package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// GetBlob returns the data stored under name and its version, or
// [ErrNotFound].
func (q queries) GetBlob(ctx context.Context, name string) (data []byte, version int64, err error) {
	err = q.queryRow(ctx, `SELECT data, version FROM blobs WHERE name = ?`, name).Scan(bytesCol{&data}, &version)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("store: get blob %q: %w", name, err)
	}
	return data, version, nil
}

// PutBlob stores data under name if the blob's current version is
// expectVersion, and returns the new version. An expectVersion of 0 means
// the blob must not exist yet; it is then created at version 1. Each later
// put adds one.
//
// It returns [ErrConflict] if the current version is not expectVersion,
// which includes a blob that exists when expectVersion is 0 and one that
// does not when expectVersion is not 0.
func (q queries) PutBlob(ctx context.Context, name string, data []byte, expectVersion int64) (int64, error) {
	var ok bool
	var err error
	if expectVersion == 0 {
		ok, err = q.execOne(ctx, `INSERT INTO blobs (name, data, version) VALUES (?, ?, 1)
			ON CONFLICT (name) DO NOTHING`, name, bytesArg(data))
	} else {
		ok, err = q.execOne(ctx, `UPDATE blobs SET data = ?, version = version + 1 WHERE name = ? AND version = ?`,
			bytesArg(data), name, expectVersion)
	}
	if err == nil && !ok {
		err = fmt.Errorf("version %d is not current: %w", expectVersion, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("store: put blob %q: %w", name, err)
	}
	return expectVersion + 1, nil
}
