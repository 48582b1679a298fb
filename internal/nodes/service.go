package nodes

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/store"
)

// TokenStore keeps join tokens; RegisterAgent consumes one and stores the
// agent atomically (see store.Store.RegisterAgent).
type TokenStore interface {
	GetJoinToken(ctx context.Context, id string) (store.JoinToken, error)
	RegisterAgent(ctx context.Context, tokenID string, a store.Agent) error
	// Tx runs fn in a transaction: a join token is created in one with
	// its audit event.
	Tx(ctx context.Context, fn func(tx *store.Tx) error) error
}

// AgentStore keeps agent records (evictions go through a transaction,
// with their audit event).
type AgentStore interface {
	GetAgent(ctx context.Context, id string) (store.Agent, error)
	ListAgents(ctx context.Context, f store.AgentFilter) ([]store.Agent, error)
	RenewAgent(ctx context.Context, id, serial string, expiresAt, at time.Time) error
}

// SVIDStore records the workload SVIDs issued through agents.
type SVIDStore interface {
	PutAgentSVID(ctx context.Context, s store.AgentSVID) error
	ListAgentSVIDs(ctx context.Context, f store.AgentSVIDFilter) ([]store.AgentSVID, error)
}

// Pruner drops records that are of no further use; [Service.Run] calls it.
type Pruner interface {
	DeleteExpiredJoinTokens(ctx context.Context, before time.Time) (int64, error)
	DeleteExpiredAgentSVIDs(ctx context.Context, before time.Time) (int64, error)
}

// Store is everything the Service keeps; *store.Store implements it.
type Store interface {
	TokenStore
	AgentStore
	SVIDStore
	Pruner
}

// CA mints SVIDs and publishes the roots that verify them; *ca.CA
// implements it.
type CA interface {
	MintX509SVID(ctx context.Context, p ca.X509Params) (*ca.X509SVID, error)
	MintJWTSVID(ctx context.Context, p ca.JWTParams) (string, time.Time, error)
	X509Authorities() []*x509.Certificate
}

// Entries reads and updates registry entries; *registry.Registry
// implements it.
type Entries interface {
	Get(ctx context.Context, id string) (registry.Entry, error)
	Update(ctx context.Context, actor audit.Actor, id string, spec registry.Spec) (registry.Entry, error)
}

// Revocations is the revocation set; *revocation.Set implements it.
type Revocations interface {
	Revoke(ctx context.Context, e revocation.Entry) (revocation.Entry, error)
	Revoked(k revocation.Kind, v string, issuedAt time.Time) bool
}

// Auditor records audit events; the ledger implements it.
type Auditor interface {
	Record(ctx context.Context, ev audit.Event) (int64, error)
	ledger.TxAuditor
}

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultJoinTokenTTL = time.Hour
	MaxJoinTokenTTL     = 7 * 24 * time.Hour
	minJoinTokenTTL     = time.Minute
	// joinTokenRetention is how long an expired join token is kept, so that
	// using it is refused as expired rather than unknown.
	joinTokenRetention = 7 * 24 * time.Hour
	// pruneEvery is how often Run deletes expired records.
	pruneEvery = time.Minute
)

// Config configures a [Service].
type Config struct {
	// TrustDomain is the trust domain agents belong to. Required.
	TrustDomain spiffeid.TrustDomain
	// Store keeps join tokens, agents and the SVIDs issued through them.
	// Required.
	Store Store
	// CA mints SVIDs. Required.
	CA CA
	// Entries reads entries (what an agent may serve) and changes their
	// status (quarantine, release). Required.
	Entries Entries
	// Revocations receives the revocations of evictions and entry
	// revocations, and is asked whether an agent's SVID is revoked.
	// Required.
	Revocations Revocations
	// Auditor records every token, attestation, eviction, refusal and
	// credential issued. Required.
	Auditor Auditor
	// MaxSVIDTTL bounds the lifetime of any SVID the CA issues (the CA key
	// lifetime, as no SVID outlives its CA); revocations last that long.
	// Zero means ca.DefaultCATTL.
	MaxSVIDTTL time.Duration
	// AgentSVIDTTL is the lifetime of agent SVIDs; zero means the CA's
	// default X509-SVID lifetime.
	AgentSVIDTTL time.Duration
	// Changed, if set, is called after revocations were written, so that
	// they reach agents at once.
	Changed func()
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
}

// Service is the server side of node agents. It is safe for concurrent
// use.
type Service struct {
	cfg Config
}

// New returns a Service for cfg, or an error naming the missing fields.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.TrustDomain.IsZero() {
		errs = append(errs, errors.New("TrustDomain is required"))
	}
	for _, f := range []struct {
		name string
		nil  bool
	}{
		{"Store", cfg.Store == nil}, {"CA", cfg.CA == nil}, {"Entries", cfg.Entries == nil},
		{"Revocations", cfg.Revocations == nil}, {"Auditor", cfg.Auditor == nil},
	} {
		if f.nil {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	if cfg.MaxSVIDTTL < 0 || cfg.AgentSVIDTTL < 0 {
		errs = append(errs, errors.New("TTLs must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("nodes: config: %w", err)
	}
	if cfg.MaxSVIDTTL == 0 {
		cfg.MaxSVIDTTL = ca.DefaultCATTL
	}
	if cfg.Changed == nil {
		cfg.Changed = func() {}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg}, nil
}

// now returns the current time as the store keeps it.
func (s *Service) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Microsecond) }

// Run deletes expired records every minute until ctx is done: join tokens
// a week after they expired, and SVID records once their certificate
// expired. Failures are logged and retried. It returns nil when ctx is
// done.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.prune(ctx)
	}
}

// prune runs one pass of Run.
func (s *Service) prune(ctx context.Context) {
	now := s.cfg.Clock()
	if n, err := s.cfg.Store.DeleteExpiredJoinTokens(ctx, now.Add(-joinTokenRetention)); err != nil && ctx.Err() == nil {
		s.cfg.Logger.ErrorContext(ctx, "nodes: delete expired join tokens", "error", err)
	} else if n > 0 {
		s.cfg.Logger.DebugContext(ctx, "nodes: deleted expired join tokens", "count", n)
	}
	if n, err := s.cfg.Store.DeleteExpiredAgentSVIDs(ctx, now); err != nil && ctx.Err() == nil {
		s.cfg.Logger.ErrorContext(ctx, "nodes: delete expired agent svid records", "error", err)
	} else if n > 0 {
		s.cfg.Logger.DebugContext(ctx, "nodes: deleted expired agent svid records", "count", n)
	}
}

// record writes ev to the ledger. For a success the ledger's error is
// returned, as a credential must not be handed out unrecorded; for a
// refusal it is only logged, since the caller already fails.
func (s *Service) record(ctx context.Context, ev audit.Event) error {
	_, err := s.cfg.Auditor.Record(ctx, ev)
	if err == nil {
		return nil
	}
	if ev.Outcome != audit.OutcomeSuccess {
		s.cfg.Logger.ErrorContext(ctx, "nodes: record refusal", "type", ev.Type, "error", err)
		return nil
	}
	return fmt.Errorf("record %s: %w", ev.Type, err)
}
