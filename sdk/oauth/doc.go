// Package oauth is the Go SDK of Kith's OAuth 2.0 token service, for the
// authors of services that call others and of services that are called.
//
// A calling service obtains access tokens with a [TokenSource]: it
// authenticates as its OAuth client, caches the token and obtains a fresh
// one before the cached one expires (at a random point between 70% and 85%
// of its lifetime, so that many replicas do not refresh at once). It
// authenticates with the workload's JWT-SVID when it has one (see the
// workload subpackage, which fetches it from the SPIFFE Workload API), over
// mutual TLS with its X509-SVID, with a registered private key, or with a
// client secret. With a DPoP key, tokens are bound to it (RFC 9449), and
// [TokenSource.Transport] signs a proof for every request.
//
//	ts, err := oauth.NewTokenSource(oauth.TokenSourceConfig{
//		TokenURL:  "https://kith.example.org/oauth2/token",
//		ClientID:  "ci_…",
//		Secret:    os.Getenv("KITH_CLIENT_SECRET"),
//		Resources: []string{"spiffe://example.org/billing"},
//	})
//	client := &http.Client{Transport: ts.Transport(nil)}
//
// A called service checks tokens with a [Verifier]: the ES256 signature
// against the issuer's JWKS, the typ (at+jwt), issuer, audience, required
// claims and lifetime, the revocation set if it is given one, and the
// binding of a sender-constrained token to the caller's TLS certificate
// (cnf.x5t#S256) or DPoP key (cnf.jkt). [Verifier.Middleware] does it for
// net/http. These are the very checks Kith's proxy and token service run.
//
//	v, err := oauth.NewVerifier(oauth.VerifierConfig{
//		Issuer:   "https://kith.example.org",
//		Audience: "spiffe://example.org/billing",
//	})
//	http.Handle("/", v.Middleware(handler))
//	// in handler: claims := oauth.ClaimsFromContext(r.Context())
//
// This package is public and keeps its dependencies light: the standard
// library, go-jose and go-spiffe's SVID and bundle types. It is the public
// face over Kith's light internal packages: internal/authn, where the
// verification checks live, and internal/oauthclient, the token source.
// It may link those and other light internal packages of that kind
// (standard library, go-jose and go-spiffe only), never Kith's server,
// store, agent or their dependencies; deps_test.go pins the list.
package oauth
