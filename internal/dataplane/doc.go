// Package dataplane is the in-memory view of trust data a proxy or SDK
// middleware enforces with: trust bundles (own and federated), the
// revocation set, the compiled policy set, the token service's signing
// keys and the callers' trust states the behavioural-trust engine pushes
// (a trust.Index: [View.Trust] makes the View an enforce.TrustSource),
// with the trust domain and token issuer.
//
// The node agent serves the feed on a Unix socket (GET [FeedPath], see
// [FeedMessage]); a [View] follows it with [View.Run] and answers every
// question of the request path from an immutable snapshot in memory,
// without a network call or disk I/O. When the agent is away, a View keeps
// serving what it holds (static stability) and resumes when it returns.
//
// A View trusts the agent for bundles, policies, token keys and trust
// states: the socket
// is reachable only by the agent's user and group. Revocation batches are
// checked again: each is the JWS the server signed, verified against the
// own bundle's JWT authorities before it is applied; one that does not
// verify is logged and ignored.
//
// This package must not talk to the server, read files on the request
// path, or decide calls itself: deciding is package policy's, verifying
// credentials package authn's.
package dataplane
