package oauth

import (
	"context"
	"net/http"

	"github.com/kith-dev/kith/internal/oauthclient"
)

// JWTSVIDSource gives the workload's JWT-SVIDs; *workloadapi.JWTSource of
// go-spiffe implements it. Its one method is
//
//	FetchJWTSVID(ctx context.Context, params jwtsvid.Params) (*jwtsvid.SVID, error)
type JWTSVIDSource = oauthclient.JWTSVIDSource

// TokenSourceConfig configures a [TokenSource]. Exactly one credential is
// used: JWTSVIDs, Key, Secret, or, when none is set, the client
// certificate of HTTPClient (tls_client_auth). Its fields:
//
//   - TokenURL string: the token endpoint, such as
//     "https://kith.example.org/oauth2/token". Required.
//   - ClientID string: the OAuth client ID. Required except with JWTSVIDs
//     or tls_client_auth when the workload has a single client.
//   - Secret string: the client secret, sent with HTTP Basic
//     authentication.
//   - Key crypto.Signer and KeyID string: sign private_key_jwt assertions
//     (RFC 7523) with an ECDSA, RSA or Ed25519 private key registered with
//     the client.
//   - JWTSVIDs [JWTSVIDSource]: the workload's JWT-SVIDs, sent as client
//     assertions; their audience is the issuer (TokenURL without its
//     path).
//   - Scopes and Resources []string: narrow the tokens asked for (scopes
//     and RFC 8707 resource indicators); empty asks for everything the
//     client may hold.
//   - DPoPKey crypto.Signer: if set, binds tokens to this key (RFC 9449).
//   - HTTPClient *http.Client: sends the token requests; it must trust the
//     server and, for tls_client_auth or certificate-bound tokens, present
//     the workload's X509-SVID. http.DefaultClient when nil.
//   - Clock func() time.Time: the current time; nil means time.Now.
type TokenSourceConfig = oauthclient.Config

// Token is an access token: AccessToken, TokenType ("Bearer" or "DPoP"),
// Expiry and the granted Scopes.
type Token = oauthclient.Token

// TokenError is an OAuth error answer of the token endpoint: its
// StatusCode, the OAuth error Code (such as "invalid_client"), its
// Description and, for 429 answers, RetryAfter. [TokenSource.Token]
// returns it; test for it with errors.As.
type TokenError = oauthclient.TokenError

// TokenSource obtains access tokens and caches them until a refresh point
// drawn between 70% and 85% of their lifetime. It is safe for concurrent
// use; concurrent callers share one request.
type TokenSource struct {
	ts *oauthclient.TokenSource
}

// NewTokenSource returns a TokenSource for cfg. It returns an error if
// TokenURL is not an https URL, if several credentials are set, if a Key
// lacks its KeyID, if a Secret or Key lacks the ClientID, or if DPoPKey
// is of an unsupported type.
func NewTokenSource(cfg TokenSourceConfig) (*TokenSource, error) {
	ts, err := oauthclient.New(cfg)
	if err != nil {
		return nil, err
	}
	return &TokenSource{ts: ts}, nil
}

// Token returns a valid token: the cached one before its refresh point, a
// fresh one after. If a refresh fails while the cached token has more than
// 10 seconds left, the cached token is returned. It returns a *TokenError
// when the server refuses, or the transport's error.
func (ts *TokenSource) Token(ctx context.Context) (*Token, error) {
	return ts.ts.Token(ctx)
}

// Transport returns a RoundTripper that sends every request through base
// (http.DefaultTransport when nil) with a token in its Authorization
// header and, for DPoP tokens, a proof of possession bound to the request
// and the token.
func (ts *TokenSource) Transport(base http.RoundTripper) http.RoundTripper {
	return ts.ts.Transport(base)
}
