package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/oauthclient"
	"github.com/kith-dev/kith/internal/oauthclient/workload"
)

// runToken is `kith token`: access tokens from the token service.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "token", []subcommand{
		{"fetch", "get an access token with client credentials and print it", runTokenFetch},
	}, args, stdout, stderr)
}

// tokenJSON is a token in `kith token fetch -o json`: the token
// endpoint's answer, with the expiry as a time too.
type tokenJSON struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresIn   int64     `json:"expires_in"`
	Expiry      time.Time `json:"expiry"`
	Scope       string    `json:"scope,omitempty"`
}

// runTokenFetch is `kith token fetch`.
func runTokenFetch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token fetch", "(--client-id ID [--client-secret-file F | --key FILE --key-id KID] | --jwt-svid | --mtls) [flags]",
		"Get an access token with the client_credentials grant and print it (-o json: the\n"+
			"token endpoint's answer), like hydra perform client-credentials. The client\n"+
			"authenticates with its secret (--client-secret-file, or $KITH_CLIENT_SECRET), a\n"+
			"private key registered with it (private_key_jwt), the workload's JWT-SVID\n"+
			"(--jwt-svid) or its X509-SVID over mutual TLS (--mtls), both from the Workload\n"+
			"API. The token endpoint is the server's of the data folder unless --token-url\n"+
			"names another; it is verified the SPIFFE way (against the data folder's bundle,\n"+
			"or the Workload API's).", stderr)
	cf := addClientFlags(fs)
	var (
		tokenURL, clientID, secretFile, keyFile, keyID, socket string
		jwtSVID, mtls                                          bool
		scopes, audiences                                      stringList
	)
	fs.StringVar(&tokenURL, "token-url", "", "the token endpoint, https://host:port/oauth2/token (default: the server's)")
	fs.StringVar(&clientID, "client-id", "", "the OAuth client ID (optional with --jwt-svid and --mtls when the workload has one client)")
	fs.StringVar(&secretFile, "client-secret-file", "", "a file holding the client secret (default $KITH_CLIENT_SECRET)")
	fs.StringVar(&keyFile, "key", "", "PEM private key registered with the client: authenticate with private_key_jwt")
	fs.StringVar(&keyID, "key-id", "", "the key ID (kid) of --key's public key as registered")
	fs.BoolVar(&jwtSVID, "jwt-svid", false, "authenticate with the workload's JWT-SVID from the Workload API")
	fs.BoolVar(&mtls, "mtls", false, "authenticate with the workload's X509-SVID over mutual TLS (tls_client_auth)")
	fs.StringVar(&socket, "workload-socket", "", "with --jwt-svid or --mtls: the Workload API, a path or unix:///path (default $SPIFFE_ENDPOINT_SOCKET)")
	fs.Var(&scopes, "scope", "a scope to ask for (repeatable; default: all the client may hold)")
	fs.Var(&audiences, "audience", "a resource (RFC 8707) the token is for (repeatable)")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	secret := os.Getenv("KITH_CLIENT_SECRET")
	if secretFile != "" {
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return fmt.Errorf("client secret: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	workloadMode := jwtSVID || mtls
	switch {
	case jwtSVID && mtls:
		return usagef(fs, "give --jwt-svid or --mtls, not both")
	case workloadMode && (keyFile != "" || secretFile != ""):
		return usagef(fs, "--jwt-svid and --mtls take no --key or --client-secret-file")
	case keyFile != "" && secretFile != "":
		return usagef(fs, "give --key or --client-secret-file, not both")
	case keyFile != "" && keyID == "":
		return usagef(fs, "--key needs --key-id")
	case !workloadMode && clientID == "":
		return usagef(fs, "--client-id is required (or --jwt-svid, --mtls)")
	case !workloadMode && keyFile == "" && secret == "":
		return usagef(fs, "no credential: give --client-secret-file (or set KITH_CLIENT_SECRET), --key, --jwt-svid or --mtls")
	case socket != "" && !workloadMode:
		return usagef(fs, "--workload-socket goes with --jwt-svid or --mtls")
	}
	if cf.output != "table" && cf.output != "json" && cf.output != "yaml" {
		return usagef(fs, "-o must be table, json or yaml, not %q", cf.output)
	}
	var cfg oauthclient.Config
	if workloadMode {
		addr := workloadAddr(socket)
		if addr == "" {
			return usagef(fs, "--jwt-svid and --mtls need --workload-socket or $SPIFFE_ENDPOINT_SOCKET")
		}
		if tokenURL == "" {
			return usagef(fs, "--jwt-svid and --mtls need --token-url")
		}
		wcfg, closer, err := workload.Configure(ctx, workload.Config{TokenURL: tokenURL, ClientID: clientID, Addr: addr, MTLS: mtls,
			Scopes: scopes.vs, Resources: audiences.vs})
		if err != nil {
			return err
		}
		defer closer.Close()
		cfg = wcfg
	} else {
		o := cf.o
		o.NoToken = true
		if tokenURL != "" && o.Addr == "" {
			if u, err := url.Parse(tokenURL); err == nil {
				o.Addr = u.Host
			}
		}
		acfg, err := adminclient.FromEnvironment(o)
		if err != nil {
			return err
		}
		base, hc, err := adminclient.ServerClient(acfg)
		if err != nil {
			return err
		}
		if tokenURL == "" {
			tokenURL = base.String() + "/oauth2/token"
		}
		cfg = oauthclient.Config{TokenURL: tokenURL, ClientID: clientID, Scopes: scopes.vs, Resources: audiences.vs,
			HTTPClient: &http.Client{Transport: hc.Transport, Timeout: 30 * time.Second}}
		if keyFile != "" {
			b, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			if cfg.Key, err = oauthclient.ParsePrivateKey(b); err != nil {
				return fmt.Errorf("--key %s: %w", keyFile, err)
			}
			cfg.KeyID = keyID
		} else {
			cfg.Secret = secret
		}
	}
	now := time.Now()
	cfg.Clock = func() time.Time { return now }
	ts, err := oauthclient.New(cfg)
	if err != nil {
		return err
	}
	tok, err := ts.Token(ctx)
	if err != nil {
		return err
	}
	if !cf.json() {
		_, err := fmt.Fprintln(stdout, tok.AccessToken)
		return err
	}
	return cf.encode(stdout, tokenJSON{AccessToken: tok.AccessToken, TokenType: tok.TokenType,
		ExpiresIn: int64(tok.Expiry.Sub(now) / time.Second), Expiry: tok.Expiry.UTC(), Scope: strings.Join(tok.Scopes, " ")})
}
