package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/kith-dev/kith/internal/server"
)

// serverFlags registers the flags of `kith server` (and `kith dev`) on fs
// and returns the Config they fill, plus the logging flags.
func serverFlags(fs *flag.FlagSet) (*server.Config, *logFlags) {
	cfg := &server.Config{}
	fs.StringVar(&cfg.TrustDomain, "trust-domain", os.Getenv("KITH_TRUST_DOMAIN"), "SPIFFE trust domain to issue for, such as example.org (env KITH_TRUST_DOMAIN)")
	fs.StringVar(&cfg.ListenAddr, "listen", "127.0.0.1:8443", "HTTPS address of the admin API and bundle endpoint")
	fs.StringVar(&cfg.DataDir, "data", "kith-data", "data folder: SQLite store, key-encryption key, admin token")
	fs.StringVar(&cfg.StoreURL, "store", "", "store URL: postgres://… for PostgreSQL; empty for SQLite in the data folder")
	durationVar(fs, &cfg.CATTL, "ca-ttl", 0, "lifetime of CA keys, a `duration` such as 24h or 7d (default 1d)")
	durationVar(fs, &cfg.X509SVIDTTL, "x509-svid-ttl", 0, "default lifetime of X509-SVIDs, a `duration` (default 1h)")
	durationVar(fs, &cfg.JWTSVIDTTL, "jwt-svid-ttl", 0, "default lifetime of JWT-SVIDs, a `duration` (default 5m)")
	fs.StringVar(&cfg.UpstreamCertFile, "upstream-cert", "", "PEM certificate chain of an upstream CA (Kith becomes its intermediate)")
	fs.StringVar(&cfg.UpstreamKeyFile, "upstream-key", "", "PEM private key of the upstream CA")
	fs.StringVar(&cfg.UpstreamBundleFile, "upstream-bundle", "", "PEM roots of the upstream PKI, published in the trust bundle")
	fs.StringVar(&cfg.BundleEndpointAddr, "bundle-endpoint-addr", "", "serve the bundle with the https_web profile on this address too")
	fs.StringVar(&cfg.BundleEndpointCertFile, "bundle-endpoint-cert", "", "Web PKI certificate (PEM) of the https_web bundle endpoint")
	fs.StringVar(&cfg.BundleEndpointKeyFile, "bundle-endpoint-key", "", "private key (PEM) of the https_web bundle endpoint")
	fs.StringVar(&cfg.FederationRootsFile, "federation-roots", "", "PEM roots for https_web bundle endpoints of federated domains (default: system roots)")
	fs.StringVar(&cfg.OAuthIssuer, "oauth-issuer", "", "public https URL of the token service (the iss of its tokens); default derived from --listen")
	fs.StringVar(&cfg.JWTIssuer, "jwt-issuer", "", "public https URL that JWT-SVIDs name as iss; serves an OIDC discovery document and JWKS for them at URL/.well-known/openid-configuration and URL/keys, so that OIDC relying parties accept JWT-SVIDs (like SPIRE's jwt_issuer and OIDC Discovery Provider)")
	durationVar(fs, &cfg.TokenTTL, "token-ttl", 0, "lifetime of OAuth access tokens, a `duration` (default 5m, at most 1h)")
	fs.Float64Var(&cfg.TokenClientRate, "token-client-rate", 0, "token requests per second one OAuth client may make (default 200)")
	fs.IntVar(&cfg.TokenClientBurst, "token-client-burst", 0, "burst of one OAuth client's token requests (default twice the rate)")
	fs.Func("token-audit", `when token issuances reach the ledger: "durable" (before the token is returned; default) or "batched" (once a second: faster, a crash loses up to a second of issuance records)`, func(v string) error {
		switch v {
		case "durable":
			cfg.BatchTokenAudit = false
		case "batched":
			cfg.BatchTokenAudit = true
		default:
			return fmt.Errorf("want durable or batched")
		}
		return nil
	})
	fs.Func("witness", `a C2SP tlog-witness that cosigns the ledger's checkpoints, as "URL VERIFIER-KEY" (repeatable)`, func(v string) error {
		w, err := server.ParseWitness(v)
		if err == nil {
			cfg.Witnesses = append(cfg.Witnesses, w)
		}
		return err
	})
	fs.IntVar(&cfg.WitnessQuorum, "witness-quorum", 0, "publish a checkpoint only with this many witness cosignatures (0: witnesses are asked, not required)")
	fs.Float64Var(&cfg.AdminFailureRate, "admin-failure-rate", 0, "failed admin logins per second one source address may keep up before it is answered 429 (default 10, burst 5 times the rate); a valid admin token is always accepted")
	fs.DurationVar(&cfg.AdminAuditWindow, "admin-audit-window", 0, "repeated failed admin logins of one source within this window are one ledger event with a count (default 10s)")
	fs.DurationVar(&cfg.LedgerVerifyInterval, "ledger-verify-interval", 0, "how often the whole audit ledger is verified in the background; a failure makes /readyz not ready (default 1h; negative: off, the check at start still runs)")
	fs.BoolVar(&cfg.AccessLog, "access-log", false, "log every HTTP request at info: method, path, status, duration, remote address")
	fs.StringVar(&cfg.Remediation, "remediation", "", "`file` of remediation ladders: what the server does when a caller's trust falls (README: Remediation)")
	fs.Func("token-sensitive-scope", "a scope (or prefix ending in *) tokens of low-trust clients leave out (repeatable)", func(v string) error {
		cfg.TokenSensitiveScopes = append(cfg.TokenSensitiveScopes, v)
		return nil
	})
	lf := daemonFlags(fs)
	return cfg, lf
}

// serverConfig parses the arguments of `kith server` (and its --config
// file) into the server's Config, checked as far as can be without
// starting it.
func serverConfig(args []string, stderr io.Writer) (*server.Config, error) {
	fs := newFlagSet("server", "--trust-domain TD [flags]", "Run the control plane: CA, registry, federation, admin API.", stderr)
	cfg, lf := serverFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return nil, err
	}
	if cfg.TrustDomain == "" {
		return nil, usagef(fs, "--trust-domain is required")
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return nil, usageError{err}
	}
	cfg.Logger = logger
	return cfg, cfg.Check()
}

type logFlags struct{ level, format string }

// logger builds the slog.Logger the flags ask for, writing to w.
func (lf *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(lf.level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(lf.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", lf.format)
}

// runServer is `kith server`: the control plane, until interrupted.
func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := serverConfig(args, stderr)
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, *cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Kith server for trust domain %s on %s\nVerify it with:  curl --cacert %s %s/healthz\n",
		srv.TrustDomain().Name(), srv.URL(), filepath.Join(cfg.DataDir, "bundle.pem"), srv.URL())
	if tok := srv.NewAdminToken(); tok != nil {
		fmt.Fprintf(stdout, "Created the admin token in %s (readable by you only).\nUse it with:  export KITH_ADMIN_TOKEN=$(cat %s)\n", tok.Path, tok.Path)
	}
	return srv.Run(ctx)
}
