package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/oauthclient"
	"github.com/kith-dev/kith/internal/oauthclient/workload"
)

// Tokens configures the access tokens the outbound proxies attach. The
// token service is verified against the workload's trust bundle.
type Tokens struct {
	// TokenURL is the token endpoint, an https:// URL such as
	// https://kith.example.org:8443/oauth2/token; empty means outbound
	// calls carry no token, and the other fields must be empty too.
	TokenURL string
	// ClientID is the OAuth client ID: required with SecretFile, optional
	// with the JWT-SVID.
	ClientID string
	// SecretFile is a file holding the client secret; empty means the
	// proxy authenticates with the workload's JWT-SVID from the Workload
	// API.
	SecretFile string
	// Scopes and Resources (RFC 8707 resource indicators) narrow the
	// tokens asked for; empty asks for everything the client may hold.
	Scopes    []string
	Resources []string
}

// validate checks t for a proxy with the given number of outbound proxies.
func (t *Tokens) validate(outbound int) error {
	set := t.ClientID != "" || t.SecretFile != "" || len(t.Scopes) > 0 || len(t.Resources) > 0
	switch u, err := url.Parse(t.TokenURL); {
	case t.TokenURL == "" && set:
		return errors.New("sidecar: Tokens need a TokenURL")
	case t.TokenURL == "":
		return nil
	case err != nil || u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("sidecar: Tokens.TokenURL %q is not an https:// URL", t.TokenURL)
	case outbound == 0:
		return errors.New("sidecar: Tokens are for Outbound proxies, and there is none")
	case t.SecretFile != "" && t.ClientID == "":
		return errors.New("sidecar: Tokens.SecretFile needs the ClientID")
	}
	return nil
}

// source returns the outbound token source and the closer of the
// connections it holds: authenticated with the client secret read from
// SecretFile, or else with the workload's JWT-SVID from the Workload API
// at workloadAddr. It verifies the token service against the bundle of
// x509, the workload's own trust domain.
func (t *Tokens) source(ctx context.Context, workloadAddr string, x509 *workloadapi.X509Source) (*oauthclient.TokenSource, io.Closer, error) {
	var cfg oauthclient.Config
	var closer io.Closer = io.NopCloser(nil)
	if t.SecretFile == "" {
		var err error
		cfg, closer, err = workload.Configure(ctx, workload.Config{TokenURL: t.TokenURL, ClientID: t.ClientID, Addr: workloadAddr,
			Scopes: t.Scopes, Resources: t.Resources})
		if err != nil {
			return nil, nil, err
		}
	} else {
		secret, err := os.ReadFile(t.SecretFile)
		if err != nil {
			return nil, nil, fmt.Errorf("client secret: %w", err)
		}
		svid, err := x509.GetX509SVID()
		if err != nil {
			return nil, nil, fmt.Errorf("workload API: %w", err)
		}
		tc := tlsconfig.TLSClientConfig(x509, tlsconfig.AuthorizeMemberOf(svid.ID.TrustDomain()))
		cfg = oauthclient.Config{TokenURL: t.TokenURL, ClientID: t.ClientID, Secret: strings.TrimSpace(string(secret)),
			Scopes: t.Scopes, Resources: t.Resources,
			HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}}
	}
	ts, err := oauthclient.New(cfg)
	if err != nil {
		closer.Close()
		return nil, nil, err
	}
	return ts, closer, nil
}
