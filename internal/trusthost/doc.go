// Package trusthost runs the behavioural-trust engine (package trust) in
// the server: it feeds the engine every call the audit ledger recorded,
// applies the admins' clears and context inputs recorded there too,
// writes what the engine finds back to the ledger, keeps the revision of
// trust changes the sync hub pushes to agents, and persists the engine's
// learned state in the store.
//
// # The ledger is the engine's input
//
// A [Host] reads the ledger from a cursor: call.decided events (the call
// records agents uploaded, with the caller's source address and the
// reporting node) are observed, trust.cleared and trust.context_added /
// _removed events (written by the admin API) are applied, as are
// oauth.client.secret_leaked events (a leaked client secret weighs on
// its entry's trust), everything else is skipped. The server wakes it after each telemetry commit
// ([Host.Wake]), so a record reaches the engine milliseconds after its
// commit; it also polls, for what other replicas committed. Reading the
// ledger rather than a queue of records means nothing is dropped under
// load (the host falls behind and catches up, and says how far behind it
// is), and after a restart it resumes exactly where its snapshot left
// off.
//
// # Replicas
//
// Every replica runs a Host over the same shared ledger, in the same
// order, from the same snapshot: their engines see the same calls and
// admin actions and so hold the same states, and each replica's sync hub
// pushes its own engine's table to the agents connected to it. Only one
// replica, the holder of a lease kept in the store (a versioned blob,
// renewed every LeaseTTL/3), writes the engine's signals and level
// changes to the ledger and saves snapshots, so that each finding is
// recorded once. When the leader dies, another takes the lease after
// LeaseTTL; findings of that window may be recorded twice or not at all
// (the engine's state itself is unaffected). On SQLite there is one
// replica, always the leader.
//
// The package does not serve HTTP and does not decide calls; the server
// owns the admin routes, the sync hub and the token service that read it.
package trusthost
