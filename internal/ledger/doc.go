// Package ledger is Kith's tamper-evident audit log: every change of state
// (an entry created, an SVID minted, a CA key rotated, a failed admin
// login) is handed to [Ledger.Record] as a structured [audit.Event] and
// appended to a Merkle tree log in the style of Certificate Transparency.
// What an event is, its canonical encoding and the event types are
// package audit's.
//
// Each event becomes one entry: its canonical JSON, with the entry's own
// index as the first field, hashed into the tree as in RFC 6962 / RFC 9162.
// [Ledger.Run] signs checkpoints of the tree in the C2SP tlog-checkpoint
// format, optionally cosigned by [Witness]es. Anyone holding the log's
// public key can then check that an event is in the log
// ([Ledger.Evidence], [VerifyEvidence]) and that the whole log is intact and
// was only ever appended to ([VerifyLog]).
//
// Record returns only once the event is durable, and callers treat an
// error as a failure of the audited action; the ledger never drops an
// event silently. Appends go through one sequencer that commits them in
// batches (group commit), in the same store as the rest of Kith's state.
//
// The ledger does not decide anything and never sees secrets. It owns the
// log's format and rules; package store only keeps the rows.
package ledger
