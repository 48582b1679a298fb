package ledger

import "errors"

// ErrNoCheckpoint reports that no checkpoint has been published yet.
var ErrNoCheckpoint = errors.New("ledger: no checkpoint published yet")

// ErrOutOfRange reports an index or tree size beyond the log (or beyond the
// latest published checkpoint, where one is needed), or an empty or
// reversed range.
var ErrOutOfRange = errors.New("ledger: out of range")

// ErrTooLarge reports an entry that would exceed [MaxEntrySize] (Record
// shortens events instead; see [TruncatedDetail]).
var ErrTooLarge = errors.New("ledger: entry too large")

// ErrInvalidCheckpoint reports a checkpoint whose signature does not
// verify or whose text is not a well-formed checkpoint of the expected log.
var ErrInvalidCheckpoint = errors.New("ledger: invalid checkpoint")

// ErrVerificationFailed reports that evidence or a log did not verify:
// something was altered, removed, reordered or forked.
var ErrVerificationFailed = errors.New("ledger: verification failed")
