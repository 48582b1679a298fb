package nodes

import (
	"errors"
	"fmt"
)

// Errors returned by this package; callers branch on them with errors.Is.
// Their text is safe to show to the caller; wrapped causes add detail for
// operators.
var (
	// ErrInvalidJoinToken means a join token is malformed, unknown, or its
	// secret is wrong.
	ErrInvalidJoinToken = errors.New("invalid join token")
	// ErrJoinTokenUsed means a join token was used by another attestation.
	ErrJoinTokenUsed = errors.New("join token already used")
	// ErrJoinTokenExpired means a join token is past its expiry.
	ErrJoinTokenExpired = errors.New("join token expired")
	// ErrUnauthenticated means a request carries no agent SVID, or one that
	// does not verify against the trust bundle, names no known agent, or
	// is revoked.
	ErrUnauthenticated = errors.New("a valid agent SVID is required")
	// ErrEvicted means the agent was evicted: it has no identity any more.
	ErrEvicted = errors.New("agent evicted")
	// ErrAgentNotFound means no agent has the given ID.
	ErrAgentNotFound = errors.New("agent not found")
	// ErrEntryNotServed means the entry does not exist or the calling
	// agent may not serve it (its parent is another agent). The two are
	// not told apart, so an agent learns nothing of other nodes' entries.
	ErrEntryNotServed = errors.New("unknown entry, or not served by this agent")
	// ErrEntryInactive means the entry is disabled or quarantined: no
	// credentials are issued for it. Test for it with errors.As on
	// *InactiveError to learn the status.
	ErrEntryInactive = errors.New("entry is not active")
	// ErrRevokedRecently means the entry's credentials were revoked so
	// recently that a certificate minted now would be covered by the
	// revocation too (its NotBefore is backdated for clock skew); the
	// caller should retry a few seconds later.
	ErrRevokedRecently = errors.New("the entry's credentials were revoked moments ago; retry in a few seconds")
	// ErrInvalidRequest means a request is malformed: a bad TTL, too many
	// items, an empty audience.
	ErrInvalidRequest = errors.New("invalid request")
)

// InactiveError reports an entry whose status forbids issuance. It wraps
// [ErrEntryInactive].
type InactiveError struct {
	EntryID string
	Status  string
}

// Error returns "entry <id> is <status>".
func (e *InactiveError) Error() string { return fmt.Sprintf("entry %s is %s", e.EntryID, e.Status) }

// Unwrap returns [ErrEntryInactive].
func (e *InactiveError) Unwrap() error { return ErrEntryInactive }

// invalid returns an error wrapping ErrInvalidRequest with a public reason.
func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, a...))
}
