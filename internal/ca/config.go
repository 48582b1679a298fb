package ca

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultCATTL       = 24 * time.Hour
	DefaultX509SVIDTTL = time.Hour
	DefaultJWTSVIDTTL  = 5 * time.Minute
	// maxDefaultRefreshHint caps the derived refresh hint (CATTL/10).
	maxDefaultRefreshHint = time.Hour
)

// JournalStore keeps the CA journal, a single versioned blob. GetBlob returns
// store.ErrNotFound if the blob does not exist. PutBlob writes data only if
// the stored version equals expectVersion (0: the blob must not exist yet)
// and returns the new version; it returns store.ErrConflict otherwise.
type JournalStore interface {
	GetBlob(ctx context.Context, name string) ([]byte, int64, error)
	PutBlob(ctx context.Context, name string, data []byte, expectVersion int64) (int64, error)
}

// Auditor records security events; the ledger implements it.
type Auditor interface {
	Record(ctx context.Context, ev audit.Event) (int64, error)
}

// Config configures a [CA]. Zero values of optional fields select the
// documented defaults.
type Config struct {
	// TrustDomain is the trust domain the CA issues for. Required.
	TrustDomain spiffeid.TrustDomain
	// Journal persists the CA keys (sealed) and bundle sequence. Required.
	Journal JournalStore
	// KEK seals private keys before they reach Journal. Required.
	KEK *KEK
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Auditor records key lifecycle events. Required.
	Auditor Auditor
	// CATTL is the lifetime of a CA key and certificate; 0 means 24h.
	CATTL time.Duration
	// X509SVIDTTL is the default lifetime of an X509-SVID; 0 means 1h.
	X509SVIDTTL time.Duration
	// JWTSVIDTTL is the default lifetime of a JWT-SVID; 0 means 5m.
	JWTSVIDTTL time.Duration
	// JWTIssuer, if set, is the iss claim of every JWT-SVID: the issuer
	// URL an OpenID Connect relying party discovers the JWT authorities
	// from (see package oidcdiscovery). Empty means no iss, as in SPIRE
	// without jwt_issuer.
	JWTIssuer string
	// RefreshHint is the bundle's spiffe_refresh_hint; 0 means CATTL/10,
	// at most 1h and at least 1s. A prepared key is published a third of
	// CATTL before it signs, so consumers refreshing at this pace see it
	// in time.
	RefreshHint time.Duration
	// Upstream, if set, makes the CA an intermediate signed by an upstream
	// authority whose roots form the X.509 part of the bundle; nil means a
	// self-signed root per key slot.
	Upstream *Upstream
	// Subject is the subject of CA certificates; the zero value means
	// O=Kith, CN=<trust domain>. Its Country, Organization and
	// OrganizationalUnit also name X509-SVID subjects.
	Subject pkix.Name
}

// withDefaults validates cfg and fills its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	if cfg.TrustDomain.IsZero() {
		errs = append(errs, errors.New("TrustDomain is required"))
	}
	if cfg.Journal == nil {
		errs = append(errs, errors.New("Journal is required"))
	}
	if cfg.KEK == nil || cfg.KEK.aead == nil {
		errs = append(errs, errors.New("KEK is required"))
	}
	if cfg.Auditor == nil {
		errs = append(errs, errors.New("Auditor is required"))
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&cfg.CATTL, DefaultCATTL)
	setDefault(&cfg.X509SVIDTTL, DefaultX509SVIDTTL)
	setDefault(&cfg.JWTSVIDTTL, DefaultJWTSVIDTTL)
	if cfg.RefreshHint == 0 {
		cfg.RefreshHint = max(min(cfg.CATTL/10, maxDefaultRefreshHint), time.Second)
	}
	switch {
	case cfg.CATTL < time.Minute:
		errs = append(errs, fmt.Errorf("CATTL %v is shorter than 1m", cfg.CATTL))
	case cfg.X509SVIDTTL < 0 || cfg.X509SVIDTTL > cfg.CATTL:
		errs = append(errs, fmt.Errorf("X509SVIDTTL %v must be positive and at most CATTL %v", cfg.X509SVIDTTL, cfg.CATTL))
	case cfg.JWTSVIDTTL < 0 || cfg.JWTSVIDTTL > cfg.CATTL:
		errs = append(errs, fmt.Errorf("JWTSVIDTTL %v must be positive and at most CATTL %v", cfg.JWTSVIDTTL, cfg.CATTL))
	case cfg.RefreshHint < time.Second:
		errs = append(errs, fmt.Errorf("RefreshHint %v is shorter than 1s", cfg.RefreshHint))
	}
	if cfg.Upstream != nil {
		if err := cfg.Upstream.validate(cfg.Clock()); err != nil {
			errs = append(errs, err)
		}
	}
	if len(cfg.Subject.Names) == 0 && len(cfg.Subject.ToRDNSequence()) == 0 {
		cfg.Subject = pkix.Name{Organization: []string{"Kith"}, CommonName: cfg.TrustDomain.Name()}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("ca: config: %w", err)
	}
	return cfg, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}
