package witness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

// StateStore keeps the witness's record of each log as versioned blobs.
// *store.Store implements it.
type StateStore interface {
	// GetBlob returns the data stored under name and its version, or an
	// error wrapping store.ErrNotFound if there is none.
	GetBlob(ctx context.Context, name string) (data []byte, version int64, err error)
	// PutBlob stores data under name if its current version is
	// expectVersion (0: the blob must not exist yet) and returns the new
	// version, or an error wrapping store.ErrConflict if the version is
	// not current.
	PutBlob(ctx context.Context, name string, data []byte, expectVersion int64) (int64, error)
}

// logState is the witness's record of one log: the latest checkpoint it
// cosigned.
type logState struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
	// Checkpoint is the signed checkpoint as submitted.
	Checkpoint string    `json:"checkpoint"`
	Updated    time.Time `json:"updated"`
}

// stateBlobName returns the name of the blob that holds the state of the
// log with origin: origins are arbitrary text, so it is named by hash.
func stateBlobName(origin string) string {
	sum := sha256.Sum256([]byte(origin))
	return "witness/" + hex.EncodeToString(sum[:])
}

// loadState returns the recorded state of the log with origin and the
// blob's version, or nil and 0 if the witness never cosigned for it. A
// record that cannot be read is an error, never an absent one: that would
// let the log start over.
func loadState(ctx context.Context, st StateStore, origin string) (*logState, int64, error) {
	data, version, err := st.GetBlob(ctx, stateBlobName(origin))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("witness: load state of %q: %w", origin, err)
	}
	var s logState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, 0, fmt.Errorf("witness: state of %q is corrupt: %w", origin, err)
	}
	if s.Origin != origin || len(s.Root) != hashSize {
		return nil, 0, fmt.Errorf("witness: state of %q is corrupt: it records origin %q and a %d-byte root", origin, s.Origin, len(s.Root))
	}
	return &s, version, nil
}

// saveState writes s if the blob is still at version, and reports false,
// with no error, if it is not.
func saveState(ctx context.Context, st StateStore, s *logState, version int64) (bool, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return false, fmt.Errorf("witness: encode state of %q: %w", s.Origin, err)
	}
	_, err = st.PutBlob(ctx, stateBlobName(s.Origin), data, version)
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("witness: save state of %q: %w", s.Origin, err)
	}
	return true, nil
}
