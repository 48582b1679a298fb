// Package workload configures an [oauthclient.TokenSource] from the
// workload's own identity, fetched from the SPIFFE Workload API, so that
// the workload needs no client secret: it authenticates with a JWT-SVID as
// the client assertion or, with Config.MTLS, over mutual TLS with its
// X509-SVID (tls_client_auth, and certificate-bound tokens). It verifies
// the token service the SPIFFE way, against the trust bundle the Workload
// API gives. When no Workload API is configured it falls back to
// Config.Fallback.
//
// It is the implementation behind the public sdk/oauth/workload and
// behind the JWT-SVID tokens of `kith proxy`. It links go-spiffe's
// Workload API client and so gRPC, which its parent oauthclient does not;
// it links nothing of Kith's server side and never imports sdk/.
package workload

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/oauthclient"
)

// Config configures [Configure]. Zero values are documented defaults.
type Config struct {
	// TokenURL is the token endpoint. Required.
	TokenURL string
	// ClientID names the client when the workload's SPIFFE ID has several;
	// optional otherwise.
	ClientID string
	// Addr is the Workload API's address, such as
	// "unix:///run/spire/agent.sock"; empty means $SPIFFE_ENDPOINT_SOCKET.
	Addr string
	// MTLS authenticates with the X509-SVID over mutual TLS
	// (tls_client_auth) instead of a JWT-SVID assertion.
	MTLS bool
	// ServerID is the SPIFFE ID the token service must present; empty
	// accepts any ID of the workload's trust domain.
	ServerID string
	// Scopes, Resources and DPoPKey are as in oauthclient.Config.
	Scopes    []string
	Resources []string
	DPoPKey   crypto.Signer
	// Fallback is used when no Workload API is configured; nil makes
	// Configure fail then.
	Fallback *oauthclient.Config
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// ErrNoWorkloadAPI is returned by [Configure] when no Workload API is
// configured and there is no fallback.
var ErrNoWorkloadAPI = errors.New("workload: no SPIFFE Workload API configured (set SPIFFE_ENDPOINT_SOCKET) and no fallback credential")

// Configure returns the configuration of a token source using the
// workload's SVIDs, and the closer of its Workload API connections, which
// the token source uses until it is closed. It blocks until the Workload
// API has sent the workload's X509-SVID and bundle, or ctx ends. Without
// a Workload API it returns *cfg.Fallback and a closer that does nothing.
// It returns [ErrNoWorkloadAPI], or the Workload API's error.
func Configure(ctx context.Context, cfg Config) (oauthclient.Config, io.Closer, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = os.Getenv("SPIFFE_ENDPOINT_SOCKET")
	}
	if addr == "" {
		if cfg.Fallback == nil {
			return oauthclient.Config{}, nil, ErrNoWorkloadAPI
		}
		return *cfg.Fallback, closerFunc(func() error { return nil }), nil
	}
	opts := workloadapi.WithClientOptions(workloadapi.WithAddr(addr))
	x509src, err := workloadapi.NewX509Source(ctx, opts)
	if err != nil {
		return oauthclient.Config{}, nil, fmt.Errorf("workload: X509 source: %w", err)
	}
	fail := func(err error) (oauthclient.Config, io.Closer, error) {
		x509src.Close()
		return oauthclient.Config{}, nil, err
	}
	svid, err := x509src.GetX509SVID()
	if err != nil {
		return fail(fmt.Errorf("workload: X509-SVID: %w", err))
	}
	authorize := tlsconfig.AuthorizeMemberOf(svid.ID.TrustDomain())
	if cfg.ServerID != "" {
		id, err := spiffeid.FromString(cfg.ServerID)
		if err != nil {
			return fail(fmt.Errorf("workload: ServerID: %w", err))
		}
		authorize = tlsconfig.AuthorizeID(id)
	}
	tc := tlsconfig.TLSClientConfig(x509src, authorize)
	if cfg.MTLS {
		tc = tlsconfig.MTLSClientConfig(x509src, x509src, authorize)
	}
	tcfg := oauthclient.Config{
		TokenURL: cfg.TokenURL, ClientID: cfg.ClientID, Scopes: cfg.Scopes, Resources: cfg.Resources,
		DPoPKey: cfg.DPoPKey, Clock: cfg.Clock,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}},
	}
	if cfg.MTLS {
		return tcfg, closerFunc(x509src.Close), nil
	}
	jwtsrc, err := workloadapi.NewJWTSource(ctx, opts)
	if err != nil {
		return fail(fmt.Errorf("workload: JWT source: %w", err))
	}
	tcfg.JWTSVIDs = jwtsrc
	return tcfg, closerFunc(func() error { return errors.Join(jwtsrc.Close(), x509src.Close()) }), nil
}

// closerFunc adapts a function to io.Closer.
type closerFunc func() error

// Close calls f.
func (f closerFunc) Close() error { return f() }
