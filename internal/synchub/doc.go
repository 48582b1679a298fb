// Package synchub is the server's side of the sync stream to node agents:
// the hub that reads registry, revocation, bundle, policy, token-key and
// trust-state changes, fans them out to connected agents as [agentproto.Message]
// values, and lets a reconnecting agent resume from the revision it last
// saw. It signs revocation batches with the trust domain's JWT authority.
//
// The protocol itself (routes, message types, the signed batch) is
// package agentproto's; this package must not define wire types of its
// own, and agents, proxies and the SDK must never import it (it links the
// store). It does not serve HTTP: the server's agent API hands each stream
// a [MessageWriter].
package synchub
