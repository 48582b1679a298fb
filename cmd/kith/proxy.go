package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/dataplane"
	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/sdk/oauth"
	"github.com/kith-dev/kith/sdk/oauth/workload"
)

// proxyFlags are the flags of kith proxy.
type proxyFlags struct {
	workloadSocket, dataplaneSocket string
	inbound, target, metricsAddr    string
	outbound                        multiFlag
	tcp, h2c, gateway               bool
	tokens                          tokenFlags
}

// tokenFlags configure the access tokens the outbound proxies attach.
type tokenFlags struct {
	tokenURL, clientID, secretFile string
	scopes, audiences              multiFlag
}

// register adds the token flags to fs.
func (t *tokenFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.tokenURL, "token-url", "", "token endpoint for the access tokens outbound calls carry, such as https://kith.example.org:8443/oauth2/token")
	fs.StringVar(&t.clientID, "client-id", "", "OAuth client ID (required with --client-secret-file; optional with the JWT-SVID)")
	fs.StringVar(&t.secretFile, "client-secret-file", "", "file holding the client secret; without it the proxy authenticates with the workload's JWT-SVID")
	fs.Var(&t.scopes, "scope", "scope to ask for (repeatable)")
	fs.Var(&t.audiences, "audience", "resource indicator (RFC 8707) the tokens are for (repeatable)")
}

// set reports whether any token flag was given.
func (t *tokenFlags) set() bool {
	return t.tokenURL != "" || t.clientID != "" || t.secretFile != "" || len(t.scopes) > 0 || len(t.audiences) > 0
}

// check validates the token flags against the rest of the command line.
func (t *tokenFlags) check(fs *flag.FlagSet, outbound int) error {
	if !t.set() {
		return nil
	}
	switch u, err := url.Parse(t.tokenURL); {
	case t.tokenURL == "":
		return usagef(fs, "--client-id, --client-secret-file, --scope and --audience need --token-url")
	case err != nil || u.Scheme != "https" || u.Host == "":
		return usagef(fs, "--token-url %q is not an https:// URL", t.tokenURL)
	case outbound == 0:
		return usagef(fs, "--token-url is for --outbound proxies")
	case t.secretFile != "" && t.clientID == "":
		return usagef(fs, "--client-secret-file needs --client-id")
	}
	return nil
}

// tokenSource builds the outbound token source: authenticated with the
// client secret read from --client-secret-file, or else with the
// workload's JWT-SVID from the Workload API at workloadSocket. The token
// service is verified against the workload's trust bundle either way. It
// returns nil when no --token-url was given.
func (t *tokenFlags) tokenSource(ctx context.Context, workloadSocket string, x509 *workloadapi.X509Source) (*oauth.TokenSource, io.Closer, error) {
	if t.tokenURL == "" {
		return nil, nil, nil
	}
	if t.secretFile == "" {
		return workload.New(ctx, workload.Config{TokenURL: t.tokenURL, ClientID: t.clientID, Addr: "unix://" + workloadSocket,
			Scopes: t.scopes, Resources: t.audiences})
	}
	secret, err := os.ReadFile(t.secretFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--client-secret-file: %w", err)
	}
	svid, err := x509.GetX509SVID()
	if err != nil {
		return nil, nil, fmt.Errorf("workload API: %w", err)
	}
	tc := tlsconfig.TLSClientConfig(x509, tlsconfig.AuthorizeMemberOf(svid.ID.TrustDomain()))
	ts, err := oauth.NewTokenSource(oauth.TokenSourceConfig{TokenURL: t.tokenURL, ClientID: t.clientID,
		Secret: strings.TrimSpace(string(secret)), Scopes: t.scopes, Resources: t.audiences,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}})
	if err != nil {
		return nil, nil, err
	}
	return ts, io.NopCloser(nil), nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runProxy runs kith proxy: inbound, outbound and TCP proxies of one
// workload, fed by the local agent.
func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("proxy", "--workload-socket PATH --dataplane-socket PATH [--inbound LISTEN=UPSTREAM --target ID] [--outbound LISTEN=ADDR,ID]...",
		"Run the data-plane proxy beside a workload: --inbound terminates mTLS, verifies\n"+
			"callers and their tokens, decides with policy and forwards to UPSTREAM (with\n"+
			"--tcp: identity policy only, raw TCP); --outbound takes plain HTTP on LISTEN\n"+
			"and calls ADDR over mTLS, which must present the SPIFFE ID ID.", stderr)
	var f proxyFlags
	fs.StringVar(&f.workloadSocket, "workload-socket", "", "Unix socket of the agent's Workload API (required)")
	fs.StringVar(&f.dataplaneSocket, "dataplane-socket", "", "Unix socket of the agent's data-plane feed (required)")
	fs.StringVar(&f.inbound, "inbound", "", "LISTEN=UPSTREAM: serve mTLS on LISTEN, forward to UPSTREAM (http://host:port or, with --tcp, host:port)")
	fs.StringVar(&f.target, "target", "", "SPIFFE ID of the protected service (required with --inbound)")
	fs.Var(&f.outbound, "outbound", "LISTEN=DEST_ADDR,DEST_SPIFFE_ID (repeatable)")
	fs.BoolVar(&f.tcp, "tcp", false, "inbound in TCP mode: mTLS and identity policy only")
	fs.BoolVar(&f.h2c, "h2c", false, "forward to the upstream over h2c (for gRPC)")
	fs.BoolVar(&f.gateway, "allow-no-client-cert", false, "accept callers without an X509-SVID that present an access token")
	f.tokens.register(fs)
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on this address, such as 127.0.0.1:9090")
	lf := daemonFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	switch {
	case f.workloadSocket == "" || f.dataplaneSocket == "":
		return usagef(fs, "--workload-socket and --dataplane-socket are required")
	case f.inbound == "" && len(f.outbound) == 0:
		return usagef(fs, "give --inbound, --outbound or both")
	case f.inbound != "" && f.target == "":
		return usagef(fs, "--inbound needs --target")
	}
	if err := f.tokens.check(fs, len(f.outbound)); err != nil {
		return err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return usagef(fs, "%v", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	view, err := dataplane.New(dataplane.Config{SocketPath: f.dataplaneSocket, Logger: logger})
	if err != nil {
		return err
	}
	uploader := proxy.NewAgentUploader(f.dataplaneSocket)
	defer uploader.Close()
	tel, err := proxy.NewTelemetry(proxy.TelemetryConfig{Logger: logger, Uploader: uploader})
	if err != nil {
		return err
	}
	var tasks []func(context.Context) error
	tasks = append(tasks, view.Run, tel.Run)
	// The view must be running while we wait for it to be ready.
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	start := func(fn func(context.Context) error) {
		wg.Go(func() {
			if err := fn(ctx); err != nil {
				errc <- err
				cancel()
			}
		})
	}
	defer wg.Wait()
	defer cancel()
	for _, t := range tasks {
		start(t)
	}
	x509, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+f.workloadSocket)))
	if err != nil {
		return fmt.Errorf("workload API: %w", err)
	}
	defer x509.Close()
	select {
	case <-view.Ready():
	case <-ctx.Done():
		return ctx.Err()
	}

	if f.inbound != "" {
		listen, upstream, ok := strings.Cut(f.inbound, "=")
		id, err := spiffeid.FromString(f.target)
		if !ok || err != nil {
			return usagef(fs, "--inbound LISTEN=UPSTREAM with a valid --target")
		}
		enf, err := enforce.New(enforce.Config{Target: id, Bundles: view, Revocations: view, Policy: view.PolicyEngine(),
			Issuers: view, Keys: view, AllowNoClientCert: f.gateway})
		if err != nil {
			return err
		}
		if f.tcp {
			p, err := proxy.NewTCP(proxy.TCPConfig{Addr: listen, Upstream: upstream, Enforcer: enf, SVID: x509, Telemetry: tel, Logger: logger})
			if err != nil {
				return err
			}
			start(p.Run)
		} else {
			u, err := url.Parse(upstream)
			if err != nil || u.Scheme != "http" {
				return usagef(fs, "--inbound upstream %q is not an http:// URL", upstream)
			}
			p, err := proxy.NewInbound(proxy.InboundConfig{Addr: listen, Upstream: u, H2C: f.h2c, Enforcer: enf, SVID: x509, Telemetry: tel, Logger: logger})
			if err != nil {
				return err
			}
			start(p.Run)
		}
		logger.Info("inbound proxy", "listen", listen, "upstream", upstream, "target", id.String(), "tcp", f.tcp)
	}
	var tokens proxy.TokenTransport
	if len(f.outbound) > 0 {
		ts, closer, err := f.tokens.tokenSource(ctx, f.workloadSocket, x509)
		if err != nil {
			return fmt.Errorf("outbound tokens: %w", err)
		}
		if ts != nil {
			defer closer.Close()
			tokens = ts
		}
	}
	for _, o := range f.outbound {
		listen, rest, ok1 := strings.Cut(o, "=")
		addr, idText, ok2 := strings.Cut(rest, ",")
		id, err := spiffeid.FromString(idText)
		if !ok1 || !ok2 || err != nil {
			return usagef(fs, "--outbound %q: want LISTEN=DEST_ADDR,DEST_SPIFFE_ID", o)
		}
		p, err := proxy.NewOutbound(proxy.OutboundConfig{Addr: listen, Destination: addr, DestinationID: id, SVID: x509,
			Bundles: view, Revocations: view, Tokens: tokens, Telemetry: tel, Logger: logger})
		if err != nil {
			return err
		}
		start(p.Run)
		logger.Info("outbound proxy", "listen", listen, "destination", addr, "id", id.String())
	}
	if f.metricsAddr != "" {
		ln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", tel.Handler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		start(func(ctx context.Context) error {
			stop := context.AfterFunc(ctx, func() { srv.Close() })
			defer stop()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	fmt.Fprintln(stdout, "kith proxy running")
	<-ctx.Done()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}
