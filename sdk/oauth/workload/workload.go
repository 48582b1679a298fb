// Package workload builds a token source for Kith's token service from the
// workload's own identity, fetched from the SPIFFE Workload API: the
// workload needs no client secret. It authenticates with a JWT-SVID as the
// client assertion, or, with Config.MTLS, over mutual TLS with its
// X509-SVID (tls_client_auth, and certificate-bound tokens). It verifies
// the server the SPIFFE way, against the trust bundle the Workload API
// gives.
//
// When no Workload API is configured (no Config.Addr and no
// SPIFFE_ENDPOINT_SOCKET), it uses Config.Fallback, a secret or a key.
//
//	ts, closer, err := workload.New(ctx, workload.Config{
//		TokenURL:  "https://kith.example.org:8443/oauth2/token",
//		Resources: []string{"spiffe://example.org/billing"},
//	})
//	defer closer.Close()
//	client := &http.Client{Transport: ts.Transport(nil)}
//
// This package depends on go-spiffe's Workload API client and so on gRPC;
// the parent package oauth does not. It is the public face of Kith's
// internal/oauthclient/workload and links nothing of Kith's server side.
package workload

import (
	"context"
	"io"

	impl "github.com/kith-dev/kith/internal/oauthclient/workload"
	"github.com/kith-dev/kith/sdk/oauth"
)

// Config configures [New]. Zero values are documented defaults. Its
// fields:
//
//   - TokenURL string: the token endpoint. Required.
//   - ClientID string: names the client when the workload's SPIFFE ID has
//     several; optional otherwise.
//   - Addr string: the Workload API's address, such as
//     "unix:///run/spire/agent.sock"; empty means $SPIFFE_ENDPOINT_SOCKET.
//   - MTLS bool: authenticate with the X509-SVID over mutual TLS
//     (tls_client_auth) instead of a JWT-SVID assertion.
//   - ServerID string: the SPIFFE ID the token service must present; empty
//     accepts any ID of the workload's trust domain.
//   - Scopes, Resources []string and DPoPKey crypto.Signer: as in
//     [oauth.TokenSourceConfig].
//   - Fallback *[oauth.TokenSourceConfig]: used when no Workload API is
//     configured; nil makes New fail then.
//   - Clock func() time.Time: the current time; nil means time.Now.
type Config = impl.Config

// ErrNoWorkloadAPI is returned by [New] when no Workload API is
// configured and there is no fallback.
var ErrNoWorkloadAPI = impl.ErrNoWorkloadAPI

// New returns a token source using the workload's SVIDs, and the closer of
// its Workload API connections. It blocks until the Workload API has sent
// the workload's X509-SVID and bundle, or ctx ends. It returns
// [ErrNoWorkloadAPI], the Workload API's error, or the error of
// oauth.NewTokenSource.
func New(ctx context.Context, cfg Config) (*oauth.TokenSource, io.Closer, error) {
	tcfg, closer, err := impl.Configure(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	ts, err := oauth.NewTokenSource(tcfg)
	if err != nil {
		closer.Close()
		return nil, nil, err
	}
	return ts, closer, nil
}
