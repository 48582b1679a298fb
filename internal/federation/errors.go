package federation

import "errors"

// Errors returned by the Manager. Callers branch on them with [errors.Is].
var (
	// ErrInvalid is matched by every [*FieldError]: the caller gave a
	// relationship or bootstrap bundle that cannot be used.
	ErrInvalid = errors.New("federation: invalid relationship")
	// ErrOwnTrustDomain is matched when a relationship names our own trust
	// domain as a foreign one. It comes inside a [*FieldError].
	ErrOwnTrustDomain = errors.New("federation: trust domain is our own")
	// ErrExists is returned by [Manager.Add] when the trust domain is
	// already federated.
	ErrExists = errors.New("federation: trust domain already federated")
	// ErrNotFound is returned when no relationship exists for a trust
	// domain. It is this package's own sentinel; a store.ErrNotFound from
	// the [Store] is translated to it, never passed through.
	ErrNotFound = errors.New("federation: trust domain not federated")
	// ErrFetch is matched when a bundle endpoint could not be reached,
	// could not be authenticated, or did not return a parseable bundle.
	ErrFetch = errors.New("federation: bundle fetch failed")
	// ErrBundleRejected is matched when a fetched bundle was parsed but
	// refused: it has no X.509 or JWT authorities, it carries an X.509
	// authority of another trust domain, or its sequence number is lower
	// than the one held.
	ErrBundleRejected = errors.New("federation: bundle rejected")
	// ErrRunning is returned by [Manager.Run] when the Manager is already
	// running.
	ErrRunning = errors.New("federation: manager already running")
)

// FieldError reports an invalid field of a [Relationship] or its bootstrap
// bundle. It matches [ErrInvalid] and its Err with [errors.Is].
type FieldError struct {
	// Field is the name of the offending field, e.g. "BundleEndpointURL".
	Field string
	// Err says what is wrong with it.
	Err error
}

// Error returns "federation: invalid <Field>: <Err>".
func (e *FieldError) Error() string {
	return "federation: invalid " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns [ErrInvalid] and Err.
func (e *FieldError) Unwrap() []error { return []error{ErrInvalid, e.Err} }

func fieldErr(field string, err error) error { return &FieldError{Field: field, Err: err} }
