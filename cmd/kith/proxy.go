package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/proxy/sidecar"
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

// config returns the token part of the proxy's Config.
func (t *tokenFlags) config() sidecar.Tokens {
	return sidecar.Tokens{TokenURL: t.tokenURL, ClientID: t.clientID, SecretFile: t.secretFile, Scopes: t.scopes, Resources: t.audiences}
}

// config returns the proxy's Config the flags give, or a usage error for
// an --inbound or --outbound that is not of the documented form.
func (f *proxyFlags) config(fs *flag.FlagSet) (sidecar.Config, error) {
	cfg := sidecar.Config{WorkloadSocket: f.workloadSocket, DataPlaneSocket: f.dataplaneSocket,
		Tokens: f.tokens.config(), MetricsAddr: f.metricsAddr}
	if f.inbound != "" {
		listen, upstream, ok := strings.Cut(f.inbound, "=")
		id, err := spiffeid.FromString(f.target)
		if !ok || listen == "" || err != nil {
			return cfg, usagef(fs, "--inbound LISTEN=UPSTREAM with a valid --target")
		}
		if u, err := url.Parse(upstream); !f.tcp && (err != nil || u.Scheme != "http") {
			return cfg, usagef(fs, "--inbound upstream %q is not an http:// URL", upstream)
		}
		cfg.Inbound = &sidecar.Inbound{Addr: listen, Upstream: upstream, Target: id, TCP: f.tcp, H2C: f.h2c, AllowNoClientCert: f.gateway}
	}
	for _, o := range f.outbound {
		listen, rest, ok1 := strings.Cut(o, "=")
		addr, idText, ok2 := strings.Cut(rest, ",")
		id, err := spiffeid.FromString(idText)
		if !ok1 || !ok2 || listen == "" || addr == "" || err != nil {
			return cfg, usagef(fs, "--outbound %q: want LISTEN=DEST_ADDR,DEST_SPIFFE_ID", o)
		}
		cfg.Outbound = append(cfg.Outbound, sidecar.Outbound{Addr: listen, Destination: addr, DestinationID: id})
	}
	return cfg, nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runProxy runs kith proxy: inbound, outbound and TCP proxies of one
// workload, fed by the local agent.
func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := proxyConfig(args, stderr)
	if err != nil {
		return err
	}
	cfg.Ready = func() { fmt.Fprintln(stdout, "kith proxy running") }
	return sidecar.Run(ctx, cfg)
}

// proxyConfig parses the arguments of `kith proxy` (and its --config
// file) into the proxy's Config, checked as far as can be without
// starting it.
func proxyConfig(args []string, stderr io.Writer) (sidecar.Config, error) {
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
		return sidecar.Config{}, err
	}
	switch {
	case f.workloadSocket == "" || f.dataplaneSocket == "":
		return sidecar.Config{}, usagef(fs, "--workload-socket and --dataplane-socket are required")
	case f.inbound == "" && len(f.outbound) == 0:
		return sidecar.Config{}, usagef(fs, "give --inbound, --outbound or both")
	case f.inbound != "" && f.target == "":
		return sidecar.Config{}, usagef(fs, "--inbound needs --target")
	}
	if err := f.tokens.check(fs, len(f.outbound)); err != nil {
		return sidecar.Config{}, err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return sidecar.Config{}, usagef(fs, "%v", err)
	}
	cfg, err := f.config(fs)
	if err != nil {
		return cfg, err
	}
	cfg.Logger = logger
	return cfg, cfg.Check()
}
