// Package enforce is the one verification-and-decision path shared by the
// proxy and the SDK middleware: given a call's TLS peer chain, its request
// line and headers and the protected target, [Enforcer.Check] verifies the
// caller's X509-SVID against the trust bundles (own and federated) and the
// revocation set, verifies any access token presented with the Bearer or
// DPoP scheme and its binding (both with package authn, remembering the
// signatures it verified for [Config.CacheTTL]), decides with the policy
// engine, applies per-caller rate limits, and returns a [Result]: who
// called with which credential, the decision and, for a refused call, the
// HTTP status, headers and RFC 9457 problem body to answer with.
//
// It fails closed: any error refuses the call. [Result.Err] keeps the
// internal cause for logs; the public text a remote caller sees is chosen
// by one function from the [Reason] alone.
//
// The package does no network or disk I/O on the hot path: bundles,
// revocations, keys and policies are handed to it through small interfaces
// whose implementations hold them in memory. It forwards nothing and writes
// no telemetry; the proxy and the middleware do.
package enforce
