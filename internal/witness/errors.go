package witness

import (
	"errors"
	"fmt"
	"net/http"
)

// Conditions under which a witness refuses a checkpoint. They are wrapped in
// a [*StatusError] by [Witness.AddCheckpoint], and each maps to the HTTP
// status the tlog-witness protocol prescribes for it.
var (
	// ErrMalformed reports a request that does not follow the protocol: a
	// bad body, a malformed checkpoint, or an old size larger than the
	// checkpoint's (400 Bad Request).
	ErrMalformed = errors.New("malformed request")
	// ErrUnknownLog reports a checkpoint whose origin the witness is not
	// configured for (404 Not Found).
	ErrUnknownLog = errors.New("unknown log")
	// ErrBadSignature reports a checkpoint that carries no valid signature
	// from a key trusted for its origin, or an invalid one from such a key
	// (403 Forbidden).
	ErrBadSignature = errors.New("no valid log signature")
	// ErrStaleSize reports an old size that is not the size of the latest
	// checkpoint the witness cosigned for the log (409 Conflict, with that
	// size in the body as text/x.tlog.size).
	ErrStaleSize = errors.New("old size is not the latest cosigned size")
	// ErrFork reports a checkpoint of the same size as the latest cosigned
	// one but with a different root hash: the log forked (409 Conflict).
	ErrFork = errors.New("root hash differs from the cosigned checkpoint of the same size")
	// ErrBadProof reports a consistency proof that does not prove the
	// checkpoint extends the latest cosigned one (422 Unprocessable
	// Entity).
	ErrBadProof = errors.New("invalid consistency proof")
	// ErrBusy reports that the log's state kept changing under concurrent
	// requests; the client may retry (503 Service Unavailable).
	ErrBusy = errors.New("witness busy")
	// ErrInvalidCosignature is returned by [Client.AddCheckpoint] when the
	// witness's response holds no valid cosignature on the submitted
	// checkpoint from the witness's key.
	ErrInvalidCosignature = errors.New("witness returned no valid cosignature")
)

// StatusError is a refusal in the tlog-witness protocol: the HTTP status
// code that goes with it, a message safe to show to the remote party, and,
// for a 409 caused by a stale old size, the size the witness knows.
//
// [Witness.AddCheckpoint] returns it with Err set to one of the ErrX
// sentinels, which errors.Is sees through Unwrap. [Client.AddCheckpoint]
// returns it for an HTTP status other than 200 (and 409 with a size), with
// Msg holding the start of the response body and Err the sentinel the
// status stands for, if any.
type StatusError struct {
	// Code is the HTTP status code.
	Code int
	// Msg is a short public explanation.
	Msg string
	// KnownSize is the size of the latest checkpoint the witness cosigned
	// for the log, set when Err is ErrStaleSize.
	KnownSize uint64
	// Err is the condition, one of the ErrX sentinels, or nil.
	Err error
}

// Error returns the status and the message.
func (e *StatusError) Error() string {
	return fmt.Sprintf("witness: %d %s: %s", e.Code, http.StatusText(e.Code), e.Msg)
}

// Unwrap returns e.Err.
func (e *StatusError) Unwrap() error { return e.Err }

// refuse returns a *StatusError for the condition err with the status code
// the protocol assigns to it.
func refuse(err error, format string, args ...any) *StatusError {
	code := http.StatusInternalServerError
	switch err {
	case ErrMalformed:
		code = http.StatusBadRequest
	case ErrUnknownLog:
		code = http.StatusNotFound
	case ErrBadSignature:
		code = http.StatusForbidden
	case ErrStaleSize, ErrFork:
		code = http.StatusConflict
	case ErrBadProof:
		code = http.StatusUnprocessableEntity
	case ErrBusy:
		code = http.StatusServiceUnavailable
	}
	return &StatusError{Code: code, Msg: fmt.Sprintf(format, args...), Err: err}
}

// ConflictError is returned by [Client.AddCheckpoint] when the witness
// answers 409 Conflict with its latest cosigned size: the old size sent was
// not that size. Resubmit with KnownSize as the old size and a consistency
// proof from it.
type ConflictError struct{ KnownSize uint64 }

// Error names the size the witness knows.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("witness: old size is stale; the witness's latest cosigned size is %d", e.KnownSize)
}

// Unwrap returns [ErrStaleSize], so errors.Is(err, ErrStaleSize) holds.
func (e *ConflictError) Unwrap() error { return ErrStaleSize }
