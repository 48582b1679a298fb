package registry

import "errors"

// ErrNotFound is returned when no entry has the given ID.
var ErrNotFound = errors.New("entry not found")

// ErrConflict is returned when an entry with the same SPIFFE ID, parent and
// selectors already exists, or when an update carries a stale revision.
var ErrConflict = errors.New("entry conflicts with the stored state")

// ValidationError says which field of an entry is wrong and why. Its text
// is safe to show to the caller.
type ValidationError struct {
	Field  string
	Reason string
}

// Error returns "field: reason".
func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }
