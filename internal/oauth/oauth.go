// Package oauth is Kith's OAuth 2.0 authorization server for machines: the
// token endpoint (client credentials, RFC 6749 §4.4, and token exchange,
// RFC 8693), introspection (RFC 7662), revocation (RFC 7009), the server
// metadata (RFC 8414) and the JWKS of its signing keys. It also owns OAuth
// clients: each is bound to a registry entry, may never hold more scopes
// than the entry allows, and authenticates with a Kith-generated secret, a
// registered key (RFC 7523), the workload's JWT-SVID or its X509-SVID over
// mutual TLS (RFC 8705).
//
// Access tokens are ES256 JWTs per RFC 9068, optionally bound to the
// client's TLS certificate (cnf.x5t#S256) or to a DPoP key (RFC 9449,
// cnf.jkt). No token is stored: introspection answers from the signature,
// the expiry, the revocation set and the client's status, and revoking a
// token adds its jti to the set (package revocation).
//
// Serve the endpoints with [Service.Handler]; manage clients with
// [Service.CreateClient] and its siblings; run [Service.Run] to rotate the
// signing keys and flush the audit trail. Every issuance and every refusal
// is recorded in the ledger, never with a secret.
//
// With a [TrustSource] (Config.Trust), tokens follow the client's
// behavioural trust: fewer scopes and shorter lifetimes at low trust,
// none for an untrusted client, each issuance and refusal recorded with
// the trust it was decided under. Tokens carry no trust claim: trust
// changes within a token's lifetime, and resource servers read it live
// (Kith's proxies from their data plane).
//
// The package does not decide what a token allows at a resource (package
// policy does) and does not verify tokens for resource servers (package
// authn does, for the proxy and the SDK). It verifies its callers (client
// certificates, JWT-SVIDs, DPoP proofs, the tokens it introspects and
// exchanges) with package authn too, the same checks as everywhere.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/store"
)

// ClientStore keeps OAuth clients with their secret hashes and keys. The
// Get, Update and Delete methods return store.ErrNotFound for an unknown
// ID; Create and Update return store.ErrConflict on a clash.
type ClientStore interface {
	GetOAuthClient(ctx context.Context, id string) (store.OAuthClient, error)
	ListOAuthClients(ctx context.Context, f store.OAuthClientFilter) ([]store.OAuthClient, error)
	// FindOAuthClientSecret finds the client holding a secret by its
	// hash (for leak reports); store.ErrNotFound if none does.
	FindOAuthClientSecret(ctx context.Context, hash []byte) (clientID, secretID string, err error)
	// Tx runs fn in a transaction: a client is created, changed or
	// deleted in one with its audit event.
	Tx(ctx context.Context, fn func(tx *store.Tx) error) error
}

// KeyStore keeps the journal of signing keys, one versioned blob. GetBlob
// returns store.ErrNotFound when it does not exist; PutBlob writes only if
// the version is expectVersion and returns store.ErrConflict otherwise.
type KeyStore interface {
	GetBlob(ctx context.Context, name string) ([]byte, int64, error)
	PutBlob(ctx context.Context, name string, data []byte, expectVersion int64) (int64, error)
}

// Registry finds the entries clients act for.
type Registry interface {
	Get(ctx context.Context, id string) (registry.Entry, error)
	FindBySPIFFEID(ctx context.Context, id spiffeid.ID) ([]registry.Entry, error)
}

// Bundles gives the trust domain's bundle: its JWT authorities verify
// JWT-SVID client assertions and its X.509 authorities verify client
// certificates.
type Bundles interface {
	Bundle() *spiffebundle.Bundle
}

// Revocations is the revocation set. The service writes its holds in the
// transactions of the changes that cause them, through the store, and
// then calls Sync to read them.
type Revocations interface {
	Revoked(k revocation.Kind, v string, issuedAt time.Time) bool
	Revoke(ctx context.Context, e revocation.Entry) (revocation.Entry, error)
	Sync(ctx context.Context) error
}

// ChangeSource gives the store's change revision, which moves with every
// registry entry written by any replica; *store.Store implements it.
type ChangeSource interface {
	Revision(ctx context.Context) (int64, error)
}

// Auditor records audit events; the ledger implements it.
type Auditor interface {
	Record(ctx context.Context, ev audit.Event) (int64, error)
	// A client change is recorded in the change's transaction.
	ledger.TxAuditor
}

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultTokenTTL           = 5 * time.Minute
	DefaultKeyRotation        = 24 * time.Hour
	DefaultKeyPublishLead     = time.Hour
	DefaultDelegationDepth    = 3
	DefaultClientRate         = 200 // requests per second
	DefaultSourceFailureRate  = 10  // failed requests per second
	DefaultClientFailureRate  = 2   // failed requests per second
	DefaultDPoPWindow         = time.Minute
	DefaultCacheTTL           = 5 * time.Second
	DefaultChangePollInterval = 500 * time.Millisecond
	DefaultAuditFlushInterval = time.Second
	DefaultSecretOverlap      = time.Hour
	MaxSecretOverlap          = 30 * 24 * time.Hour
	maxTokenTTL               = time.Hour
)

// Config configures a [Service]. Zero values of optional fields select the
// documented defaults.
type Config struct {
	// Issuer is the server's issuer identifier: an https URL without query
	// or fragment, such as "https://kith.example.org". The endpoints live
	// under it (Issuer+"/oauth2/token", ...). Required.
	Issuer string
	// AltBaseURLs are other https base URLs under which the endpoints are
	// reached (such as "https://127.0.0.1:8443"). Client assertions may
	// name their token endpoint as audience and DPoP proofs as htu.
	AltBaseURLs []string
	// TrustDomain is the trust domain of the clients' entries. Required.
	TrustDomain spiffeid.TrustDomain

	// Clients, Keys, KEK, Registry, Bundles, Revocations and Auditor are
	// the service's dependencies. All are required.
	Clients     ClientStore
	Keys        KeyStore
	KEK         *ca.KEK
	Registry    Registry
	Bundles     Bundles
	Revocations Revocations
	Auditor     Auditor

	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger

	// TokenTTL is the lifetime of access tokens: 5m when zero, at most 1h.
	TokenTTL time.Duration
	// KeyRotation is how long a signing key signs: 24h when zero.
	KeyRotation time.Duration
	// KeyPublishLead is how long a new key is in the JWKS before it signs:
	// 1h when zero; it must be shorter than KeyRotation.
	KeyPublishLead time.Duration
	// MaxDelegationDepth bounds the act chain of exchanged tokens: 3 when
	// zero.
	MaxDelegationDepth int
	// ClientRate and ClientBurst limit the token requests of one client
	// (per second, and the bucket size): 200 and twice the rate when zero.
	ClientRate  float64
	ClientBurst int
	// SourceFailureRate and SourceFailureBurst limit the token, revocation
	// and introspection requests that fail client authentication, per
	// source address (IPv6 per /64): 10 per second and 5 times the rate
	// when zero. A source over its budget has its failures answered 429
	// with Retry-After and recorded as one coalesced refusal per source;
	// a request that authenticates is never refused for them, since every
	// workload of a node or behind a NAT shares its address.
	SourceFailureRate  float64
	SourceFailureBurst int
	// ClientFailureRate and ClientFailureBurst limit the failed
	// authentications naming one client, from all sources together: 2 per
	// second and 10 times the rate when zero. While a client's budget is
	// empty, requests naming it are refused with 429 before their
	// credentials are checked, except from sources it authenticated from
	// in the last hour (each with a budget of the same size of its own).
	ClientFailureRate  float64
	ClientFailureBurst int
	// ReplayCapacity bounds the one-time identifiers (the jtis of
	// private_key_jwt assertions and DPoP proofs) remembered until they
	// expire, of all clients: 1,000,000 when zero. ReplayShare bounds
	// those of one client: when zero, what ClientBurst and ClientRate let
	// a client send, each request with an assertion and a DPoP proof of
	// the longest lifetimes, and at most an eighth of ReplayCapacity. A
	// client over its share is refused with 429 until its identifiers
	// expire; the other clients are not affected.
	ReplayCapacity int
	ReplayShare    int
	// RequireDPoPNonce makes DPoP proofs at the token endpoint carry a
	// server-provided nonce (RFC 9449 §8).
	RequireDPoPNonce bool
	// DPoPWindow is how far a DPoP proof's iat may be from now: 1m when
	// zero.
	DPoPWindow time.Duration
	// CacheTTL is how long clients and entries read from the store are
	// reused: 5s when zero. Changes made on this replica apply at once
	// (see [Service.EntriesChanged]); those made on another replica after
	// at most CacheTTL, or, for entries, at once on a change notice and
	// within ChangePollInterval with Changes.
	CacheTTL time.Duration
	// Changes, if set, is read every ChangePollInterval (500ms when zero)
	// by Run: when its revision moved, the cached clients and entries are
	// forgotten, and cached entries are used only while the last two
	// polls could have vouched for them.
	Changes            ChangeSource
	ChangePollInterval time.Duration
	// Changed, if set, is called after the service wrote to the revocation
	// set in a transaction of its own (holding the tokens of a client
	// created for an entry that is not active, lifting them when a client
	// is deleted), so that agents learn of it at once.
	Changed func()
	// AuditFlushInterval is how often refusal events are written to the
	// ledger, coalesced: 1s when zero. Issuance events are written before
	// the token is returned, unless BatchIssuanceAudit.
	AuditFlushInterval time.Duration
	// Trust makes tokens depend on the client's behavioural trust: fewer
	// scopes, shorter lifetimes or none at lower levels (see
	// [TrustConfig]; by default, low trust gets a quarter of the lifetime
	// and no sensitive scopes, untrusted clients no token). Every issuance
	// and refusal then records the trust it was decided under. Without a
	// Source, tokens do not depend on trust.
	Trust TrustConfig
	// BatchIssuanceAudit queues issuance events with the refusals, for
	// the flush of every AuditFlushInterval, instead of writing them
	// before each token is returned: about twice the tokens per second on
	// a small machine, but a crash loses up to one interval of issuance
	// records for tokens that were handed out.
	BatchIssuanceAudit bool
}

// withDefaults validates cfg and fills its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	if err := checkBaseURL(cfg.Issuer); err != nil {
		errs = append(errs, fmt.Errorf("Issuer: %w", err))
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	cfg.AltBaseURLs = slices.Clone(cfg.AltBaseURLs)
	for i, u := range cfg.AltBaseURLs {
		if err := checkBaseURL(u); err != nil {
			errs = append(errs, fmt.Errorf("AltBaseURLs[%d]: %w", i, err))
		}
		cfg.AltBaseURLs[i] = strings.TrimSuffix(u, "/")
	}
	for _, dep := range []struct {
		name    string
		missing bool
	}{
		{"TrustDomain", cfg.TrustDomain.IsZero()}, {"Clients", cfg.Clients == nil}, {"Keys", cfg.Keys == nil},
		{"KEK", cfg.KEK == nil}, {"Registry", cfg.Registry == nil}, {"Bundles", cfg.Bundles == nil},
		{"Revocations", cfg.Revocations == nil}, {"Auditor", cfg.Auditor == nil},
	} {
		if dep.missing {
			errs = append(errs, fmt.Errorf("%s is required", dep.name))
		}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&cfg.TokenTTL, DefaultTokenTTL)
	setDefault(&cfg.KeyRotation, DefaultKeyRotation)
	setDefault(&cfg.KeyPublishLead, DefaultKeyPublishLead)
	setDefault(&cfg.DPoPWindow, DefaultDPoPWindow)
	setDefault(&cfg.CacheTTL, DefaultCacheTTL)
	setDefault(&cfg.ChangePollInterval, DefaultChangePollInterval)
	setDefault(&cfg.AuditFlushInterval, DefaultAuditFlushInterval)
	if cfg.MaxDelegationDepth == 0 {
		cfg.MaxDelegationDepth = DefaultDelegationDepth
	}
	if cfg.ClientRate == 0 {
		cfg.ClientRate = DefaultClientRate
	}
	if cfg.ClientBurst == 0 {
		cfg.ClientBurst = int(2 * cfg.ClientRate)
	}
	if cfg.SourceFailureRate == 0 {
		cfg.SourceFailureRate = DefaultSourceFailureRate
	}
	if cfg.SourceFailureBurst == 0 {
		cfg.SourceFailureBurst = int(5 * cfg.SourceFailureRate)
	}
	if cfg.ClientFailureRate == 0 {
		cfg.ClientFailureRate = DefaultClientFailureRate
	}
	if cfg.ClientFailureBurst == 0 {
		cfg.ClientFailureBurst = int(10 * cfg.ClientFailureRate)
	}
	if cfg.ReplayCapacity == 0 {
		cfg.ReplayCapacity = defaultReplayCapacity
	}
	if cfg.ReplayShare == 0 {
		perSecond := cfg.ClientRate * (maxAssertionLifetime + clockSkew + 2*cfg.DPoPWindow).Seconds()
		cfg.ReplayShare = max(1, min(cfg.ClientBurst+int(perSecond), cfg.ReplayCapacity/8))
	}
	switch {
	case cfg.TokenTTL < time.Second || cfg.TokenTTL > maxTokenTTL:
		errs = append(errs, fmt.Errorf("TokenTTL %v must be between 1s and %v", cfg.TokenTTL, maxTokenTTL))
	case cfg.KeyPublishLead >= cfg.KeyRotation:
		errs = append(errs, fmt.Errorf("KeyPublishLead %v must be shorter than KeyRotation %v", cfg.KeyPublishLead, cfg.KeyRotation))
	case cfg.MaxDelegationDepth < 1:
		errs = append(errs, fmt.Errorf("MaxDelegationDepth %d must be at least 1", cfg.MaxDelegationDepth))
	case cfg.ClientRate < 0 || cfg.ClientBurst < 1 || cfg.SourceFailureRate < 0 || cfg.SourceFailureBurst < 1 ||
		cfg.ClientFailureRate < 0 || cfg.ClientFailureBurst < 1 || cfg.ReplayCapacity < 1 || cfg.ReplayShare < 1:
		errs = append(errs, errors.New("rate limits must be positive"))
	}
	if err := cfg.Trust.check(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("oauth: config: %w", err)
	}
	return cfg, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// checkBaseURL accepts an absolute https URL with a host and without
// query, fragment or user information.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("%q is not an https URL with a host", s)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "":
		return fmt.Errorf("%q must not have a query, fragment or user information", s)
	}
	return nil
}

// Endpoint paths, under the issuer.
const (
	PathToken      = "/oauth2/token"
	PathIntrospect = "/oauth2/introspect"
	PathRevoke     = "/oauth2/revoke"
	PathJWKS       = "/oauth2/jwks"
	PathMetadata   = "/.well-known/oauth-authorization-server"
)

// Service is the authorization server. It is safe for concurrent use.
type Service struct {
	cfg    Config
	clock  func() time.Time
	logger *slog.Logger

	keys      *keyring
	tokens    *authn.TokenVerifier // of the service's own access tokens
	clients   *clientCache
	bundles   *bundleCache
	audit     *auditQueue
	limits    *limiters
	replay    *replayCache
	nonces    *nonceSource
	peers     *authn.X509Verifier     // of client certificates
	revs      authn.RevocationChecker // cfg.Revocations, for authn
	baseURLs  []string                // Issuer, then AltBaseURLs
	tokenURLs []string                // PathToken under each base URL
	changeRev atomic.Int64            // Config.Changes' revision at the last check
}

// New returns a Service for cfg. It loads the signing key journal and, on
// the first start, creates and activates the first key (recorded in the
// ledger). It returns an error if cfg is invalid, if the journal cannot be
// read or written, or if it holds keys cfg.KEK cannot unseal.
func New(ctx context.Context, cfg Config) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:      cfg,
		clock:    cfg.Clock,
		logger:   cfg.Logger,
		baseURLs: append([]string{cfg.Issuer}, cfg.AltBaseURLs...),
	}
	s.clients = newClientCache(cfg.Clients, cfg.Registry, cfg.CacheTTL, cfg.Clock, cfg.Changes != nil)
	s.bundles = newBundleCache(cfg.Bundles, cfg.TrustDomain, cfg.Clock)
	s.audit = newAuditQueue(cfg.Auditor, cfg.Clock, cfg.Logger)
	s.limits = newLimiters(cfg)
	s.replay = newReplayCache(cfg.ReplayCapacity, cfg.ReplayShare)
	s.keys = newKeyring(cfg.Keys, cfg.KEK, cfg.Auditor, cfg.Clock, cfg.Logger, keyTimes{
		rotation: cfg.KeyRotation, lead: cfg.KeyPublishLead, tail: cfg.TokenTTL + time.Minute,
	})
	if err := s.keys.start(ctx); err != nil {
		return nil, err
	}
	s.nonces = newNonceSource(s.keys, cfg.Clock)
	s.revs = revocationKinds{cfg.Revocations}
	for _, base := range s.baseURLs {
		s.tokenURLs = append(s.tokenURLs, base+PathToken)
	}
	if s.peers, err = newPeerVerifier(cfg, s.bundles, s.revs); err != nil {
		return nil, err
	}
	if s.tokens, err = newTokenVerifier(cfg, s.keys, s.revs); err != nil {
		return nil, err
	}
	return s, nil
}

// Issuer returns the issuer identifier.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// Run rotates the signing keys, reloads the journal other replicas write,
// flushes the coalesced audit events, polls Config.Changes and sweeps the
// rate limiters and replay caches, until ctx is done. It then flushes the
// audit events still queued and returns nil; it returns an error only if
// that last flush fails.
func (s *Service) Run(ctx context.Context) error {
	var changes <-chan time.Time
	pollChanges := func() {
		if err := s.CheckChanges(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "oauth: cached entries are not used until the change revision can be read", "error", err)
		}
	}
	if s.cfg.Changes != nil {
		pollChanges()
		t := time.NewTicker(s.cfg.ChangePollInterval)
		defer t.Stop()
		changes = t.C
	}
	keyTick := time.NewTicker(min(s.cfg.KeyPublishLead/4, 30*time.Second))
	defer keyTick.Stop()
	flushTick := time.NewTicker(s.cfg.AuditFlushInterval)
	defer flushTick.Stop()
	sweepTick := time.NewTicker(time.Minute)
	defer sweepTick.Stop()
	for {
		select {
		case <-ctx.Done():
			// The ledger write must outlive the cancelled context.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return s.audit.flush(fctx)
		case <-keyTick.C:
			if err := s.keys.step(ctx); err != nil && ctx.Err() == nil {
				s.logger.ErrorContext(ctx, "oauth: signing key rotation failed", "error", err)
			}
		case <-flushTick.C:
			if err := s.audit.flush(ctx); err != nil && ctx.Err() == nil {
				s.logger.ErrorContext(ctx, "oauth: audit flush failed; issuance stops when the queue is full", "error", err)
			}
		case <-changes:
			pollChanges()
		case <-sweepTick.C:
			now := s.clock()
			s.limits.sweep(now)
			s.replay.sweep(now)
		}
	}
}

// FlushAudit writes the queued issuance and refusal events to the ledger
// now. Run does it periodically; tests and shutdown paths call it
// directly. It returns the Auditor's error.
func (s *Service) FlushAudit(ctx context.Context) error {
	return s.audit.flush(ctx)
}

// RotateKeys runs one step of signing key rotation at the current time: it
// prepares, activates or retires keys whose time has come. Run calls it
// periodically. It returns an error if the journal cannot be read or
// written.
func (s *Service) RotateKeys(ctx context.Context) error {
	return s.keys.step(ctx)
}
