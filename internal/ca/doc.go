// Package ca is the certificate authority of one SPIFFE trust domain. It owns
// the CA signing keys and their rotation, mints X509-SVIDs and JWT-SVIDs, and
// publishes the trust bundle that verifies them.
//
// A [CA] keeps its keys in key slots, persisted in a journal (a single blob in
// a [JournalStore]) with every private key sealed by a [KEK]. Slots move
// through the states prepared → active → old, in the manner of SPIRE: a
// prepared key is published in the bundle at half of the active key's
// lifetime, becomes active at five sixths, and the old key leaves the bundle
// once nothing it signed can still be valid. [CA.Rotate] performs one such
// step; [CA.Run] calls it periodically. Journal writes are compare-and-swap,
// so several replicas may share one journal.
//
// Minting ([CA.MintX509SVID], [CA.MintJWTSVID]) reads an immutable snapshot
// of the keys and never waits for a rotation.
//
// The package must not decide who may have which identity: callers (the
// registry, the agent endpoint) authorize a request before asking for an SVID,
// and they record the minting in the audit ledger. It must not store private
// keys unsealed, and it does no network I/O of its own.
package ca
