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
// the parent package oauth does not.
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

	"github.com/kith-dev/kith/sdk/oauth"
)

// Config configures [New].
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
	// Scopes, Resources and DPoPKey are as in oauth.TokenSourceConfig.
	Scopes    []string
	Resources []string
	DPoPKey   crypto.Signer
	// Fallback is used when no Workload API is configured; nil makes New
	// fail then.
	Fallback *oauth.TokenSourceConfig
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// ErrNoWorkloadAPI is returned by [New] when no Workload API is
// configured and there is no fallback.
var ErrNoWorkloadAPI = errors.New("workload: no SPIFFE Workload API configured (set SPIFFE_ENDPOINT_SOCKET) and no fallback credential")

// New returns a token source using the workload's SVIDs, and the closer of
// its Workload API connections. It blocks until the Workload API has sent
// the workload's X509-SVID and bundle, or ctx ends. It returns
// [ErrNoWorkloadAPI], the Workload API's error, or the error of
// oauth.NewTokenSource.
func New(ctx context.Context, cfg Config) (*oauth.TokenSource, io.Closer, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = os.Getenv("SPIFFE_ENDPOINT_SOCKET")
	}
	if addr == "" {
		if cfg.Fallback == nil {
			return nil, nil, ErrNoWorkloadAPI
		}
		ts, err := oauth.NewTokenSource(*cfg.Fallback)
		return ts, closerFunc(func() error { return nil }), err
	}
	opts := workloadapi.WithClientOptions(workloadapi.WithAddr(addr))
	x509src, err := workloadapi.NewX509Source(ctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("workload: X509 source: %w", err)
	}
	svid, err := x509src.GetX509SVID()
	if err != nil {
		x509src.Close()
		return nil, nil, fmt.Errorf("workload: X509-SVID: %w", err)
	}
	authorize := tlsconfig.AuthorizeMemberOf(svid.ID.TrustDomain())
	if cfg.ServerID != "" {
		id, err := spiffeid.FromString(cfg.ServerID)
		if err != nil {
			x509src.Close()
			return nil, nil, fmt.Errorf("workload: ServerID: %w", err)
		}
		authorize = tlsconfig.AuthorizeID(id)
	}
	tc := tlsconfig.TLSClientConfig(x509src, authorize)
	if cfg.MTLS {
		tc = tlsconfig.MTLSClientConfig(x509src, x509src, authorize)
	}
	tcfg := oauth.TokenSourceConfig{
		TokenURL: cfg.TokenURL, ClientID: cfg.ClientID, Scopes: cfg.Scopes, Resources: cfg.Resources,
		DPoPKey: cfg.DPoPKey, Clock: cfg.Clock,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}},
	}
	closers := closerFunc(func() error { return x509src.Close() })
	if !cfg.MTLS {
		jwtsrc, err := workloadapi.NewJWTSource(ctx, opts)
		if err != nil {
			x509src.Close()
			return nil, nil, fmt.Errorf("workload: JWT source: %w", err)
		}
		tcfg.JWTSVIDs = jwtsrc
		closers = func() error { return errors.Join(jwtsrc.Close(), x509src.Close()) }
	}
	ts, err := oauth.NewTokenSource(tcfg)
	if err != nil {
		closers()
		return nil, nil, err
	}
	return ts, closers, nil
}

// closerFunc adapts a function to io.Closer.
type closerFunc func() error

// Close calls f.
func (f closerFunc) Close() error { return f() }
