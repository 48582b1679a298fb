// Package authn verifies callers: X509-SVID chains, JWT-SVIDs, the access
// tokens of Kith's token service and their binding to a TLS certificate or
// a DPoP key, each against the revocation set. It is the one path shared
// by the token service (client certificates, JWT-SVID client assertions,
// DPoP proofs, introspection and token exchange), the enforcer of the proxy
// and the SDK middleware, the SDK's public verifier (sdk/oauth is its
// public face) and the agent's Workload API, so that every verifier
// applies the same rules and a fix lands once.
//
// One file per check:
//   - x509.go: X509-SVID chains against the bundles, and [CheckX509SVID]
//     against the revocation set (a chain whose leaf serial number is
//     revoked, or whose SPIFFE ID was revoked at or after the leaf's
//     NotBefore, is refused though unexpired); [Authorizer] adds the
//     latter to go-spiffe's TLS verification.
//   - peer.go: [X509Verifier] verifies TLS peers with both and remembers
//     the chains it verified.
//   - jwtsvid.go: [ValidateJWTSVID] and [VerifyJWTSVID] verify JWT-SVIDs.
//   - token.go and claims.go: [TokenVerifier] verifies access tokens (RFC
//     9068) into [Claims], remembering the tokens it verified.
//   - binding.go: [Presented] reads how a request presents its token, and
//     [TokenVerifier.CheckBinding] checks cnf.x5t#S256 (RFC 8705) and
//     cnf.jkt (RFC 9449).
//   - dpop.go: [ParseDPoPProof] verifies a DPoP proof's signature, and
//     [DPoPProof.Check] and [DPoPProof.FirstUse] what it is for, its age
//     and its replay, in a [ReplayStore] the caller chooses.
//   - keys.go: where the token service's public keys come from
//     ([KeySource]).
//
// Every check takes the time from its caller. The package decides nothing
// about authorization beyond identity, binding and revocation (package
// policy does) and performs no I/O of its own: bundles, keys and the
// revocation set are handed to it through small interfaces, held in memory
// by their owners (the SDK's KeySource fetching a JWKS is the SDK's). It
// links only the standard library, go-jose and go-spiffe, since the public
// SDK links it (sdk/oauth's TestDeps pins that).
package authn
