// Package oauthclient is the client side of Kith's OAuth 2.0 token
// service: a [TokenSource] that authenticates as an OAuth client (client
// secret, private_key_jwt, JWT-SVID assertion, or the TLS client
// certificate of its HTTP client), caches the access token it obtains,
// refreshes it before it expires, and attaches it to requests, with a
// DPoP proof (RFC 9449) when the token is DPoP-bound.
//
// It is the implementation behind the public token source of sdk/oauth
// and behind the outbound tokens of `kith proxy`; its subpackage workload
// builds its configuration from the SPIFFE Workload API. Its errors start
// with "oauth:", the prefix SDK users have always seen.
//
// It must stay light, because the SDK links it: the standard library,
// go-jose and go-spiffe's SVID types, nothing of Kith's server side, no
// gRPC. It verifies no token (package authn and the SDK's verifier do) and
// never imports sdk/.
package oauthclient
