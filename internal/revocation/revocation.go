// Package revocation owns the revocation set: the credentials Kith has
// withdrawn before they expire. Verifiers consult it on every request, so
// [Set.Revoked] is a lock-light, allocation-free map lookup.
//
// # Data model
//
// An [Entry] revokes every credential of one kind and value that was
// issued at or before its RevokedAt:
//
//   - [KindJTI]: the one access token with that "jti";
//   - [KindClientID]: every access token issued to that OAuth client;
//   - [KindX509Serial]: the X.509 certificate with that serial number (in
//     lower-case hex);
//   - [KindSPIFFEID]: every credential (SVID or token subject) of that
//     SPIFFE ID.
//
// Credentials issued after RevokedAt are not affected, so revoking a
// client's tokens or a workload's SVIDs does not lock it out for good; it
// must obtain fresh credentials (after its secret is rotated, say).
// ExpiresAt is when the entry can be forgotten because every credential it
// covers has expired (zero: never). Revoking the same kind and value again
// only widens the entry: the later RevokedAt and ExpiresAt win.
//
// # Holds
//
// An entry whose RevokedAt is [Held] (the last second of year 9999) and
// ExpiresAt zero is a hold: it revokes every credential of its kind and
// value issued until it is lifted, whichever server replica issued it and
// whatever its clock said. Package oauth holds the tokens of the clients
// of a registry entry that is not active, so that a token issued by a
// replica that had not yet learned of a quarantine is refused all the
// same. A hold is lifted by narrowing its RevokedAt to the time of the
// lift (store.LiftRevocation), at a new revision; consumers replace an
// entry by one of a higher revision, so the narrowed entry travels like
// any other, and consumers that predate holds read one as a revocation
// with a late cut-off, which is what it is.
//
// Every write gets a revision from the store, growing by one per write and
// visible in order, so that a consumer holding revision R catches up with
// [Set.Since](R). Entries dropped after they expire are not announced: a
// consumer drops them itself at their ExpiresAt. This is the form in which
// the set travels to agents and proxies.
//
// The set does not decide what to revoke (package oauth and the admin API
// do) and does not verify credentials (verifiers do, and ask the set).
package revocation

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the kind of credential an [Entry] names.
type Kind uint8

// Kinds of revoked credentials.
const (
	KindJTI Kind = iota + 1
	KindClientID
	KindX509Serial
	KindSPIFFEID
	numKinds = iota + 1
)

// kindNames are the wire names of the kinds, indexed by Kind.
var kindNames = [numKinds]string{"", "jti", "client_id", "x509_serial", "spiffe_id"}

// String returns the wire name of k: "jti", "client_id", "x509_serial" or
// "spiffe_id".
func (k Kind) String() string {
	if k == 0 || k >= numKinds {
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
	return kindNames[k]
}

// ErrInvalid reports an entry or kind the set cannot hold.
var ErrInvalid = errors.New("invalid revocation")

// ParseKind returns the Kind named s. It returns an error wrapping
// [ErrInvalid] for an unknown name.
func ParseKind(s string) (Kind, error) {
	if k := kindOf(s); k != 0 {
		return k, nil
	}
	return 0, fmt.Errorf("%w: unknown kind %q", ErrInvalid, s)
}

// kindOf returns the Kind named s, or 0. It does not allocate.
func kindOf(s string) Kind {
	switch s {
	case "jti":
		return KindJTI
	case "client_id":
		return KindClientID
	case "x509_serial":
		return KindX509Serial
	case "spiffe_id":
		return KindSPIFFEID
	}
	return 0
}

// heldUnix is [Held] in Unix seconds: 9999-12-31T23:59:59Z.
const heldUnix = 253402300799

// Held returns the cut-off of a hold, 9999-12-31T23:59:59Z: an entry with
// it revokes every credential of its kind and value issued until the
// hold is lifted (see the package documentation).
func Held() time.Time { return time.Unix(heldUnix, 0).UTC() }

// maxValueLen bounds the value of an entry.
const maxValueLen = 2048

// maxReasonLen bounds the reason of an entry.
const maxReasonLen = 512

// Entry is one revocation; see the package documentation for its meaning.
type Entry struct {
	Kind  Kind
	Value string
	// RevokedAt is the cut-off: credentials issued at or before it are
	// revoked. Zero when revoking means now.
	RevokedAt time.Time
	// ExpiresAt is when the entry may be dropped; zero means never.
	ExpiresAt time.Time
	// Reason is a short, human-readable reason; never a secret.
	Reason string
	// Revision is set by the store when the entry is written.
	Revision int64
}

// validate checks e's fields.
func (e Entry) validate() error {
	switch {
	case e.Kind == 0 || e.Kind >= numKinds:
		return fmt.Errorf("%w: unknown kind %d", ErrInvalid, e.Kind)
	case e.Value == "" || len(e.Value) > maxValueLen:
		return fmt.Errorf("%w: value must be 1 to %d bytes", ErrInvalid, maxValueLen)
	case len(e.Reason) > maxReasonLen:
		return fmt.Errorf("%w: reason longer than %d bytes", ErrInvalid, maxReasonLen)
	case !e.ExpiresAt.IsZero() && e.ExpiresAt.Before(e.RevokedAt):
		return fmt.Errorf("%w: expires before it is revoked", ErrInvalid)
	}
	return nil
}
