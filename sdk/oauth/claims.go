package oauth

import "github.com/kith-dev/kith/internal/authn"

// Claims are the verified claims of an access token (RFC 9068): Issuer,
// Subject (the SPIFFE ID of the workload the token is about), Audience,
// Expiry, IssuedAt, ID (the jti), ClientID, Scopes, ACR (how strongly the
// client authenticated: urn:kith:acr:secret < urn:kith:acr:private_key <
// urn:kith:acr:svid), the token's binding (CertThumbprint, its
// cnf.x5t#S256, and DPoPThumbprint, its cnf.jkt; both empty for a bearer
// token) and Actor, the chain of services acting for Subject for a token
// obtained by token exchange (RFC 8693 act claim; nil otherwise).
// [Claims.HasScope] reports whether the token grants a scope.
type Claims = authn.Claims

// Actor is one link of a delegation chain: the service that acts
// (Subject, ClientID), and the Actor it acted for in turn.
type Actor = authn.Actor
