package ca

import "errors"

// Errors returned by this package. Callers branch on them with errors.Is; the
// wrapped text adds detail meant for operators, not for remote callers.
var (
	// ErrInvalidCSR means a certificate signing request is oversized,
	// malformed, or its signature (the proof of possession) does not verify.
	ErrInvalidCSR = errors.New("ca: invalid certificate signing request")
	// ErrUnsupportedKey means the public key in a request is of a type or
	// size the CA refuses to certify.
	ErrUnsupportedKey = errors.New("ca: unsupported public key")
	// ErrInvalidSPIFFEID means the SPIFFE ID asked for is not a workload ID
	// of the CA's trust domain.
	ErrInvalidSPIFFEID = errors.New("ca: SPIFFE ID not allowed")
	// ErrInvalidParams means a minting parameter (TTL, audience, DNS name,
	// extra claim) is invalid.
	ErrInvalidParams = errors.New("ca: invalid parameters")
	// ErrUnavailable means the CA has no key that may sign right now, for
	// instance because the active key expired and rotation has not run.
	ErrUnavailable = errors.New("ca: no usable signing key")
	// ErrJournal means the stored CA journal is unreadable or inconsistent
	// with the configuration (another trust domain, a corrupt slot).
	ErrJournal = errors.New("ca: invalid journal")
	// ErrUnseal means sealed data could not be opened: wrong key, wrong
	// additional data, or tampered ciphertext.
	ErrUnseal = errors.New("ca: unable to open sealed data")
)
