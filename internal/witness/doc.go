// Package witness implements both sides of the C2SP tlog-witness protocol
// (https://c2sp.org/tlog-witness): a [Witness] that cosigns checkpoints of
// the logs it is configured for, and a [Client] that a log uses to collect
// those cosignatures.
//
// A witness keeps, for each log, the latest checkpoint it cosigned, in a
// [StateStore] written with compare-and-swap, so that concurrent requests
// and restarts cannot roll a log back. It cosigns a checkpoint only when
// the log's signature verifies and the checkpoint extends the recorded one
// by a valid RFC 6962 consistency proof; it never cosigns two checkpoints
// of the same size with different roots (a fork) nor a smaller tree than
// it has recorded.
//
// Cosignatures are Ed25519 cosignature/v1 signatures
// (https://c2sp.org/tlog-cosignature) on signed notes
// (https://c2sp.org/signed-note); [GenerateKey], [NewSigner] and
// [NewVerifier] handle their keys.
//
// [Run] is the witness as a process of its own (`kith witness`): its key
// in a data folder, its state in a store there, add-checkpoint served over
// plain HTTP until the context is done.
//
// Refusals are [*StatusError] values carrying the HTTP status the protocol
// assigns to them; test for the condition with errors.Is and the ErrX
// sentinels. The package speaks plain HTTP: TLS, rate limiting and access
// logs belong to whatever serves [Witness.Handler]. It does not fetch
// checkpoints or proofs itself, and it knows nothing of the ledger it is
// used by.
package witness
