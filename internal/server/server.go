// Package server is the composition root of Kith's control plane: it builds
// the store, the ledger, the CA, the registry and the federation manager from
// a [Config], serves the admin API, the bundle endpoint, health and metrics
// over HTTPS, and runs every long-lived part as a task that stops with the
// others.
//
// It holds wiring and the HTTP edge only: the rules live in the packages it
// composes.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/federation"
	"github.com/kith-dev/kith/internal/httpserve"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/oidcdiscovery"
	"github.com/kith-dev/kith/internal/policyset"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/store"
)

// Config configures a [Server]. Zero values are documented defaults.
type Config struct {
	// TrustDomain is the SPIFFE trust domain the server issues for, such as
	// "example.org". Required.
	TrustDomain string
	// ListenAddr is the HTTPS address of the admin API; "127.0.0.1:8443"
	// when empty. Port 0 picks a free port (see [Server.Addr]). The
	// server's certificate names its IP address (every address of the
	// host for an unspecified one) and localhost.
	ListenAddr string
	// DataDir holds the SQLite database, the key-encryption key, the admin
	// token and files for the CLI; "kith-data" when empty. Created 0700;
	// [New] refuses a folder, or a file in it, that others may have read
	// or changed, and makes private what others could not reach (see
	// [DataDirError]).
	DataDir string
	// StoreURL selects the store: "postgres://…" for PostgreSQL; empty for
	// SQLite at DataDir/kith.db.
	StoreURL string
	// KEKFile is the key-encryption key; DataDir/kek when empty.
	KEKFile string

	// CATTL, X509SVIDTTL and JWTSVIDTTL are the lifetimes of CA keys and
	// minted SVIDs: 24h, 1h and 5m when zero.
	CATTL, X509SVIDTTL, JWTSVIDTTL time.Duration

	// UpstreamCertFile, UpstreamKeyFile and UpstreamBundleFile, all or none,
	// make Kith an intermediate CA under an existing PKI.
	UpstreamCertFile, UpstreamKeyFile, UpstreamBundleFile string

	// BundleEndpointAddr, when set, serves the trust bundle on a separate
	// listener with the https_web profile, using the Web PKI certificate in
	// BundleEndpointCertFile and BundleEndpointKeyFile. The main listener
	// always serves GET /bundle with the https_spiffe profile.
	BundleEndpointAddr, BundleEndpointCertFile, BundleEndpointKeyFile string

	// FederationRootsFile is a PEM file of roots that authenticate https_web
	// bundle endpoints of federated trust domains; system roots when empty.
	FederationRootsFile string

	// CheckpointInterval is how often the audit ledger signs a checkpoint
	// when it grew; 1s when zero.
	CheckpointInterval time.Duration
	// LedgerVerifyInterval is how often the whole audit ledger is verified
	// in the background (every entry rehashed against the signed
	// checkpoints); a failure makes /readyz not ready. 1h when zero;
	// negative turns it off (the quick check at start still runs).
	LedgerVerifyInterval time.Duration
	// OAuthIssuer is the token service's issuer URL as clients and
	// resource servers know it (https://auth.example.org); empty means
	// [Server.URL]. Its host is added to the server's certificate.
	OAuthIssuer string
	// JWTIssuer, if set, is the iss of every JWT-SVID and the issuer of an
	// OpenID Connect discovery document and JWKS for them, served at
	// its path + /.well-known/openid-configuration and + /keys on the
	// main listener and the https_web bundle endpoint (see package
	// oidcdiscovery): any OIDC relying party then accepts JWT-SVIDs
	// from the issuer URL alone. Its host is added to the server's
	// certificate. Empty means JWT-SVIDs without iss, as in SPIRE.
	JWTIssuer string
	// TokenTTL is the lifetime of access tokens: 5m when zero, at most 1h.
	TokenTTL time.Duration
	// TokenClientRate and TokenClientBurst limit one OAuth client's token
	// requests (per second, and the bucket size): 200 and twice the rate
	// when zero.
	TokenClientRate  float64
	TokenClientBurst int
	// BatchTokenAudit writes token issuance events to the ledger once a
	// second instead of before each token is returned (see
	// oauth.Config.BatchIssuanceAudit).
	BatchTokenAudit bool

	// AdminFailureRate and AdminFailureBurst limit failed admin logins
	// per source address (IPv6 per /64): a source that fails more often
	// than AdminFailureRate per second, after a burst of
	// AdminFailureBurst, is answered 429 with Retry-After instead of 401.
	// A valid admin token is accepted whatever its source's failures.
	// DefaultAdminFailureRate and 5 times the rate when zero.
	AdminFailureRate  float64
	AdminFailureBurst int
	// AdminAuditWindow is how long repeated failed admin logins of one
	// source are gathered into one ledger event (the first is recorded at
	// once): DefaultAdminAuditWindow when zero.
	AdminAuditWindow time.Duration

	// ReplicaPollInterval is how often the server reads what other
	// replicas sharing its PostgreSQL store changed, in case it missed
	// their change notices: when zero, every second for what agents are
	// sent, every 2s for the revocation set the server itself checks and
	// every 500ms for the entries the token service caches.
	ReplicaPollInterval time.Duration

	// Witnesses cosign the ledger's checkpoints; with WitnessQuorum > 0 a
	// checkpoint is published only with that many cosignatures.
	Witnesses     []WitnessConfig
	WitnessQuorum int

	// Trust configures the behavioural-trust engine the server runs over
	// the call records (see [TrustConfig]); on by default.
	Trust TrustConfig
	// Remediation is the file of remediation ladders (package
	// remediation, README "Remediation"); none when empty.
	Remediation string
	// TokenSensitiveScopes are the scopes tokens of low-trust clients
	// leave out (names, or prefixes ending in '*'); see
	// oauth.TrustConfig.
	TokenSensitiveScopes []string

	// CallObserver, if set, is told of every call record the server
	// committed to the ledger (see [CallObserver]); nil means none.
	CallObserver CallObserver

	// AccessLog logs every HTTP request at info ("http request": method,
	// path, route, status, duration, remote address, request ID), not
	// at debug.
	AccessLog bool
	// Logger receives structured logs; nil discards.
	Logger *slog.Logger
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// ShutdownTimeout bounds graceful shutdown of the HTTP servers; 10s
	// when zero.
	ShutdownTimeout time.Duration
}

// Server is a running control plane: create it with [New], start it with
// [Server.Run].
type Server struct {
	// telemetry remembers the agents' last telemetry batches.
	telemetry telemetryMarks

	cfg    Config
	td     spiffeid.TrustDomain
	logger *slog.Logger
	clock  func() time.Time

	store     *store.Store
	kek       *ca.KEK
	ledger    *ledger.Ledger
	ledgerKey string // the ledger's note verifier key
	ca        *ca.CA
	registry  *registry.Registry
	fed       *federation.Manager
	metrics   *metrics
	authFails *authFailures // failed admin logins: coalescing, rate limit
	health    ledgerHealth  // the ledger's verification
	svid      *servingSVID
	agents    *agentPlane // node agents: attestation, sync hub, revocation set
	oauth     *oauthPart  // the token service
	policies  *policyset.Service
	trust     *trustPart // nil when disabled
	// remediation is the ladder; nil without a ladder file.
	remediation *remediationPart

	listener       net.Listener
	names          serverName // what the listener's certificate and URL say
	bundleListener net.Listener
	webTLS         *tls.Config // https_web bundle endpoint
	adminToken     *AdminToken // set only when New created the first token
}

// New builds every part of the control plane and binds its listeners, so
// that [Server.Addr] is known before [Server.Run]. On the first start with an
// empty store it creates the admin credential (see [Server.NewAdminToken]).
// It returns an error naming what failed; nothing is left running then.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	td, err := spiffeid.TrustDomainFromString(cfg.TrustDomain)
	if err != nil {
		return nil, fmt.Errorf("trust domain %q: %w", cfg.TrustDomain, err)
	}
	s := &Server{cfg: cfg, td: td, logger: cfg.Logger, clock: cfg.Clock}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	// What can fail without leaving anything behind goes first: a busy
	// port must not leave a data folder with a fresh admin token and key.
	if err := s.listen(); err != nil {
		return nil, err
	}
	if err := prepareDataDir(cfg.DataDir, cfg.Logger); err != nil {
		return nil, err
	}
	if err := checkPrivateFiles(cfg); err != nil {
		return nil, err
	}
	storeURL := cfg.StoreURL
	if storeURL == "" {
		storeURL = filepath.Join(cfg.DataDir, "kith.db")
	}
	if s.store, err = store.Open(ctx, store.Config{URL: storeURL, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if s.kek, err = ca.LoadOrCreateKEK(cfg.KEKFile); err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	if err := s.buildLedger(ctx); err != nil {
		return nil, err
	}
	if err := s.buildCA(ctx); err != nil {
		return nil, err
	}
	if s.registry, err = registry.New(registry.Config{TrustDomain: td, Store: s.store, Auditor: registryAuditor{s}, Clock: cfg.Clock,
		Hook: entryHook{s}, Agents: registryAgents{s}, Dependents: entryClients{s}}); err != nil {
		return nil, err
	}
	if err := s.buildFederation(ctx); err != nil {
		return nil, err
	}
	s.metrics = newMetrics()
	s.authFails = newAuthFailures(cfg.AdminFailureRate, cfg.AdminFailureBurst)
	s.metrics.registerLedger(s.ledger)
	s.metrics.registerLedgerHealth(&s.health)
	if err := s.checkLedgerAtStart(ctx); err != nil {
		return nil, err
	}
	if err := s.buildTrust(); err != nil {
		return nil, fmt.Errorf("trust engine: %w", err)
	}
	if err := s.buildNodes(ctx); err != nil {
		return nil, err
	}
	if err := s.buildPolicies(ctx); err != nil {
		return nil, err
	}
	if s.svid, err = newServingSVID(ctx, s.ca, td, s.names, cfg.Clock, cfg.Logger); err != nil {
		return nil, fmt.Errorf("server svid: %w", err)
	}
	if s.adminToken, err = s.bootstrapAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.buildOAuth(ctx); err != nil {
		return nil, err
	}
	if err := s.buildRemediation(ctx); err != nil {
		return nil, err
	}
	if err := s.writeClientFiles(); err != nil {
		return nil, err
	}
	return s, nil
}

// listen binds the listeners, loads the https_web bundle endpoint's
// certificate and names the server (see serverNames).
func (s *Server) listen() error {
	var err error
	if s.listener, err = net.Listen("tcp", s.cfg.ListenAddr); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if s.names, err = serverNames(s.listener.Addr().(*net.TCPAddr), s.cfg.OAuthIssuer); err != nil {
		return err
	}
	if s.cfg.JWTIssuer != "" {
		u, _ := url.Parse(s.cfg.JWTIssuer) // checked by setDefaults
		s.names.addHost(u.Hostname())
	}
	if s.cfg.BundleEndpointAddr != "" {
		if s.webTLS, err = webTLSConfig(s.cfg.BundleEndpointCertFile, s.cfg.BundleEndpointKeyFile); err != nil {
			return err
		}
		if s.bundleListener, err = net.Listen("tcp", s.cfg.BundleEndpointAddr); err != nil {
			return fmt.Errorf("listen bundle endpoint: %w", err)
		}
	}
	return nil
}

// Check reports what [New] would refuse in cfg before it touches the
// network or the data folder: a missing or invalid trust domain, limits
// out of range, half-given upstream CA or bundle endpoint files, a
// witness quorum larger than the witnesses. It returns the errors New
// returns for them.
func (cfg Config) Check() error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	if _, err := spiffeid.TrustDomainFromString(cfg.TrustDomain); err != nil {
		return fmt.Errorf("trust domain %q: %w", cfg.TrustDomain, err)
	}
	if cfg.WitnessQuorum > len(cfg.Witnesses) {
		return fmt.Errorf("witness quorum %d is more than the %d witnesses configured", cfg.WitnessQuorum, len(cfg.Witnesses))
	}
	return nil
}

func (cfg *Config) setDefaults() error {
	if cfg.TrustDomain == "" {
		return errors.New("server: Config.TrustDomain is required")
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:8443"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "kith-data"
	}
	if cfg.KEKFile == "" {
		cfg.KEKFile = filepath.Join(cfg.DataDir, "kek")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.AdminFailureRate < 0 || cfg.AdminFailureBurst < 0 || cfg.AdminAuditWindow < 0 {
		return errors.New("server: the admin failure limits and audit window must not be negative")
	}
	if cfg.AdminFailureRate == 0 {
		cfg.AdminFailureRate = DefaultAdminFailureRate
	}
	if cfg.AdminFailureBurst == 0 {
		cfg.AdminFailureBurst = int(math.Ceil(5 * cfg.AdminFailureRate))
	}
	if cfg.AdminAuditWindow == 0 {
		cfg.AdminAuditWindow = DefaultAdminAuditWindow
	}
	if cfg.LedgerVerifyInterval == 0 {
		cfg.LedgerVerifyInterval = DefaultLedgerVerifyInterval
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	up := []string{cfg.UpstreamCertFile, cfg.UpstreamKeyFile, cfg.UpstreamBundleFile}
	if n := countSet(up...); n != 0 && n != 3 {
		return errors.New("server: the upstream CA needs all of cert, key and bundle files, or none")
	}
	if cfg.JWTIssuer != "" {
		if err := oidcdiscovery.CheckIssuer(cfg.JWTIssuer); err != nil {
			return fmt.Errorf("server: JWT issuer: %w", err)
		}
	}
	be := []string{cfg.BundleEndpointAddr, cfg.BundleEndpointCertFile, cfg.BundleEndpointKeyFile}
	if n := countSet(be...); n != 0 && n != 3 {
		return errors.New("server: the https_web bundle endpoint needs an address, a certificate and a key, or none")
	}
	return nil
}

func countSet(ss ...string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

// ledgerOrigin is the origin line of the trust domain's audit ledger.
func ledgerOrigin(td spiffeid.TrustDomain) string { return td.Name() + "/kith/ledger" }

func (s *Server) buildLedger(ctx context.Context) error {
	origin := ledgerOrigin(s.td)
	signer, err := loadLedgerSigner(ctx, s.store, s.kek, origin)
	if err != nil {
		return err
	}
	s.ledgerKey = signer.VerifierKey()
	if s.cfg.WitnessQuorum > len(s.cfg.Witnesses) {
		return fmt.Errorf("witness quorum %d is more than the %d witnesses configured", s.cfg.WitnessQuorum, len(s.cfg.Witnesses))
	}
	witnesses, err := buildWitnesses(s.cfg.Witnesses)
	if err != nil {
		return err
	}
	s.ledger, err = ledger.New(ctx, ledger.Config{
		Store:              s.store,
		Origin:             origin,
		Signer:             signer,
		CheckpointInterval: s.cfg.CheckpointInterval,
		Witnesses:          witnesses,
		Quorum:             s.cfg.WitnessQuorum,
		Clock:              s.clock,
		Logger:             s.logger,
	})
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

func (s *Server) buildCA(ctx context.Context) error {
	var err error
	var upstream *ca.Upstream
	if s.cfg.UpstreamCertFile != "" {
		if upstream, err = ca.LoadUpstream(s.cfg.UpstreamCertFile, s.cfg.UpstreamKeyFile, s.cfg.UpstreamBundleFile); err != nil {
			return fmt.Errorf("upstream CA: %w", err)
		}
	}
	s.ca, err = ca.New(ctx, ca.Config{
		TrustDomain: s.td,
		Journal:     s.store,
		KEK:         s.kek,
		Clock:       s.clock,
		Logger:      s.logger,
		Auditor:     s.ledger,
		CATTL:       s.cfg.CATTL,
		X509SVIDTTL: s.cfg.X509SVIDTTL,
		JWTSVIDTTL:  s.cfg.JWTSVIDTTL,
		JWTIssuer:   strings.TrimSuffix(s.cfg.JWTIssuer, "/"),
		Upstream:    upstream,
	})
	if err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	return nil
}

func (s *Server) buildFederation(ctx context.Context) error {
	var roots *x509.CertPool
	if s.cfg.FederationRootsFile != "" {
		pemBytes, err := os.ReadFile(s.cfg.FederationRootsFile)
		if err != nil {
			return fmt.Errorf("federation roots: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemBytes) {
			return fmt.Errorf("federation roots: no certificate in %s", s.cfg.FederationRootsFile)
		}
	}
	var err error
	s.fed, err = federation.New(ctx, federation.Config{
		OwnTrustDomain: s.td,
		Store:          s.store,
		Auditor:        s.ledger,
		WebPKIRoots:    roots,
		Clock:          s.clock,
		Logger:         s.logger,
	})
	if err != nil {
		return fmt.Errorf("federation: %w", err)
	}
	return nil
}

// Addr returns the address the admin API listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// URL returns the server's base URL, https://host:port, as a person or
// program should be told it: the listen address (loopback for an
// unspecified one), which the server's certificate names, and the OAuth
// issuer unless Config.OAuthIssuer sets another.
func (s *Server) URL() string { return s.names.url }

// BundleEndpointAddr returns the address of the https_web bundle endpoint,
// or "" when it is not configured.
func (s *Server) BundleEndpointAddr() string {
	if s.bundleListener == nil {
		return ""
	}
	return s.bundleListener.Addr().String()
}

// TrustDomain returns the trust domain the server issues for.
func (s *Server) TrustDomain() spiffeid.TrustDomain { return s.td }

// ID returns the server's own SPIFFE ID, spiffe://<td>/kith/server.
func (s *Server) ID() spiffeid.ID { return serverID(s.td) }

// CA returns the server's certificate authority.
func (s *Server) CA() *ca.CA { return s.ca }

// Federation returns the server's federation manager.
func (s *Server) Federation() *federation.Manager { return s.fed }

// NewAdminToken returns the admin token created by [New] on first start, or
// nil when the store already had an admin credential.
func (s *Server) NewAdminToken() *AdminToken { return s.adminToken }

// Run serves until ctx is done, then shuts down gracefully and closes the
// store. It returns the first error of any part, or nil after a clean
// shutdown. Run must be called at most once.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	tasks := []task{
		{"https", func(ctx context.Context) error { return s.serve(ctx, s.listener, s.adminHandler(), s.svid.tlsConfig()) }},
		{"ledger", s.ledger.Run},
		{"ca", s.ca.Run},
		{"federation", s.fed.Run},
		{"server-svid", s.svid.run},
		{"client-files", s.refreshClientFiles},
		{"agents", s.runAgents},
		{"oauth", s.oauth.run},
		{"admin-auth-audit", s.runAuthFailures},
		{"ledger-verify", s.runLedgerVerify},
	}
	if s.trust != nil {
		tasks = append(tasks, task{"trust", s.trust.host.Run}, task{"trust-policies", s.runTrustPolicies})
	}
	tasks = append(tasks, s.remediationTasks()...)
	if s.bundleListener != nil {
		tasks = append(tasks, task{"bundle-endpoint", func(ctx context.Context) error {
			return s.serve(ctx, s.bundleListener, s.bundleEndpointHandler(), s.webTLS)
		}})
	}
	s.logger.Info("kith server running", "addr", s.Addr(), "trust_domain", s.td.String(), "store", s.store.Backend())
	err := runTasks(ctx, tasks)
	s.logger.Info("kith server stopped", "error", err)
	return err
}

func (s *Server) close() {
	if s.listener != nil {
		s.listener.Close()
	}
	if s.bundleListener != nil {
		s.bundleListener.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
}

// serve runs an HTTPS server on l until ctx is done, then shuts it down
// gracefully within the configured timeout.
func (s *Server) serve(ctx context.Context, l net.Listener, h http.Handler, tc *tls.Config) error {
	return httpserve.Run(ctx, l, httpserve.Config{Handler: h, TLSConfig: tc, WriteTimeout: 60 * time.Second,
		ShutdownTimeout: s.cfg.ShutdownTimeout, Logger: s.logger})
}

// writeClientFiles writes what the CLI on this machine needs to reach the
// server: DATA/server.json (address and trust domain) and DATA/bundle.pem
// (the trust anchors that verify the server's SVID).
func (s *Server) writeClientFiles() error {
	info := fmt.Sprintf("{\n  \"addr\": %q,\n  \"trust_domain\": %q\n}\n", s.Addr(), s.td.String())
	if err := writeFileAtomic(filepath.Join(s.cfg.DataDir, "server.json"), []byte(info), 0o600); err != nil {
		return err
	}
	return s.writeBundlePEM()
}

func (s *Server) writeBundlePEM() error {
	var buf []byte
	for _, c := range s.ca.Bundle().X509Authorities() {
		buf = append(buf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return writeFileAtomic(filepath.Join(s.cfg.DataDir, "bundle.pem"), buf, 0o600)
}

// refreshClientFiles rewrites DATA/bundle.pem when the bundle changes.
func (s *Server) refreshClientFiles(ctx context.Context) error {
	seq, _ := s.ca.Bundle().SequenceNumber()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		b := s.ca.Bundle()
		if cur, _ := b.SequenceNumber(); cur != seq {
			if err := s.writeBundlePEM(); err != nil {
				s.logger.Error("write bundle.pem", "error", err)
				continue
			}
			seq = cur
		}
	}
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// into place, so readers never see half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Ledger returns the server's audit ledger.
func (s *Server) Ledger() *ledger.Ledger { return s.ledger }

// LedgerKey returns the note verifier key of the ledger's checkpoints.
func (s *Server) LedgerKey() string { return s.ledgerKey }

// Registry returns the server's workload registry.
func (s *Server) Registry() *registry.Registry { return s.registry }
