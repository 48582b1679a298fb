// Package authn verifies a caller: X509-SVID chains, the revocation set,
// JWT-SVIDs (and, later, access tokens and their binding). It is the one
// path shared by the proxy, the SDK middleware, the agent's Workload API and
// token introspection, so that every verifier applies the same rules.
//
// [Authorizer] adds the revocation set to go-spiffe's TLS verification: a
// chain whose leaf serial number is revoked, or whose SPIFFE ID was revoked
// at or after the leaf's NotBefore, is refused even though it has not
// expired. [ValidateJWTSVID] verifies a JWT-SVID against trust bundles and
// the revocation set at an injected time.
//
// The package decides nothing about authorization beyond identity and
// revocation (package policy does) and performs no I/O: bundles and the
// revocation set are handed to it, held in memory by their owners.
package authn
