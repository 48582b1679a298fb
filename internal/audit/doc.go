// Package audit is the vocabulary of Kith's audit ledger: what one
// auditable fact looks like ([Event], its [Actor], [Outcome], [Policy]
// and [Trust]), every event type Kith writes with what it means and which
// part writes it ([Types]), and the canonical encoding of an event
// ([Marshal]) that the ledger hashes into its Merkle tree.
//
// It is the contract between the parts that write events (registry,
// nodes, oauth, ca, federation, policyset, the server's edges, call
// records) and those that read them (the ledger's verification,
// `kith audit query`, governance, the dashboard). Producers name event
// types by the constants here, never by a string of their own, so that a
// reader can rely on the list.
//
// The package holds no state, performs no I/O and imports only the
// standard library, so the data plane can build events too. Storing,
// sequencing and proving events is package ledger's.
package audit
