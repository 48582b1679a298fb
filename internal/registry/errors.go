package registry

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned when no entry has the given ID.
var ErrNotFound = errors.New("entry not found")

// ErrConflict is returned when an entry with the same SPIFFE ID, parent and
// selectors already exists, or when an update carries a stale revision.
var ErrConflict = errors.New("entry conflicts with the stored state")

// BatchError is the error of [Registry.CreateMany] about one of the
// entries: Index is its place in the batch (from 0), Err a
// *ValidationError, ErrConflict or another error, which it wraps.
type BatchError struct {
	Index int
	Err   error
}

// Error returns "entries[i]: " and Err's text.
func (e *BatchError) Error() string { return fmt.Sprintf("entries[%d]: %v", e.Index, e.Err) }

// Unwrap returns Err.
func (e *BatchError) Unwrap() error { return e.Err }

// ValidationError says which field of an entry is wrong and why. Its text
// is safe to show to the caller.
type ValidationError struct {
	Field  string
	Reason string
}

// Error returns "field: reason".
func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }
