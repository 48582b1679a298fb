package dataplane

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/trust"
)

// ErrNoBundle is returned by the bundle getters of a [View] for a trust
// domain it holds no bundle of.
var ErrNoBundle = errors.New("dataplane: no bundle for trust domain")

// Config configures a [View]. Zero values are documented defaults.
type Config struct {
	// SocketPath is the agent's data-plane socket. Required by [New].
	SocketPath string
	// Logger receives operational logs (connections, rejected revocation
	// batches); nil discards them.
	Logger *slog.Logger
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// snapshot is what a View holds; it is never modified once published.
type snapshot struct {
	version   int64
	td        spiffeid.TrustDomain
	bundles   map[spiffeid.TrustDomain]*spiffebundle.Bundle
	tokenKeys *jose.JSONWebKeySet
	issuer    string
}

// View is the in-memory trust data of one node, fed by its agent. Its
// getters never block on I/O and are safe for concurrent use; they read
// an immutable snapshot swapped atomically when the feed changes it.
type View struct {
	cfg    Config
	logger *slog.Logger

	cur     atomic.Pointer[snapshot]
	revoked atomic.Pointer[revocation.Set]
	trust   atomic.Pointer[trust.Index] // nil until the agent sends a table
	engine  *policy.Engine

	applyMu   sync.Mutex // serialises Apply
	ready     chan struct{}
	readyOnce sync.Once
	// changed is closed at the next Apply; nil while no one waits (see
	// Changed).
	changedMu sync.Mutex
	changed   chan struct{}

	// backoff of Run, shortened by tests.
	backoffBase, backoffMax time.Duration
	heartbeatTimeout        time.Duration
}

// New returns a View that follows the agent at cfg.SocketPath once
// [View.Run] runs; until the first full message it holds nothing and
// [View.Ready] is open. It returns an error if SocketPath is empty.
func New(cfg Config) (*View, error) {
	if cfg.SocketPath == "" {
		return nil, errors.New("dataplane: config: SocketPath is required")
	}
	return newView(cfg)
}

func newView(cfg Config) (*View, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	engine, err := policy.New(policy.Config{Clock: cfg.Clock})
	if err != nil {
		return nil, fmt.Errorf("dataplane: policy engine: %w", err)
	}
	v := &View{cfg: cfg, logger: cfg.Logger, engine: engine, ready: make(chan struct{}),
		backoffBase: 200 * time.Millisecond, backoffMax: 10 * time.Second, heartbeatTimeout: 2 * HeartbeatInterval}
	v.cur.Store(&snapshot{bundles: map[spiffeid.TrustDomain]*spiffebundle.Bundle{}})
	v.revoked.Store(v.newSet())
	return v, nil
}

func (v *View) newSet() *revocation.Set {
	set, err := revocation.New(context.Background(), revocation.Config{Clock: v.cfg.Clock, Logger: v.logger})
	if err != nil { // cannot happen without a store
		panic(fmt.Sprintf("dataplane: in-memory revocation set: %v", err))
	}
	return set
}

// Ready returns a channel closed once the View holds a full state (after
// the first full feed message, or at once for [NewStatic]).
func (v *View) Ready() <-chan struct{} { return v.ready }

// Version returns the feed version the View holds, 0 before any.
func (v *View) Version() int64 { return v.cur.Load().version }

// TrustDomain returns the own trust domain, zero before the first full
// message.
func (v *View) TrustDomain() spiffeid.TrustDomain { return v.cur.Load().td }

// Trust returns caller's trust state as the behavioural-trust engine last
// pushed it, without I/O: its entry in the table, the table's default for
// a caller not listed, and the documented starting state
// (trust.Starting(""): score 700, level medium) before the View has
// heard from the engine. It makes the View an enforce.TrustSource.
func (v *View) Trust(caller string) policy.Trust { return v.trust.Load().Trust(caller) }

// TrustLen returns the number of callers the View's trust table lists.
func (v *View) TrustLen() int { return v.trust.Load().Len() }

// Issuer returns the token service's issuer URL, "" before any.
func (v *View) Issuer() string { return v.cur.Load().issuer }

// bundle returns the bundle of td.
func (v *View) bundle(td spiffeid.TrustDomain) (*spiffebundle.Bundle, error) {
	if b, ok := v.cur.Load().bundles[td]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("%w %q", ErrNoBundle, td)
}

// GetBundleForTrustDomain returns the SPIFFE bundle of td, own or
// federated, or an error wrapping [ErrNoBundle]. It makes the View a
// spiffebundle.Source. The bundle must not be modified.
func (v *View) GetBundleForTrustDomain(td spiffeid.TrustDomain) (*spiffebundle.Bundle, error) {
	return v.bundle(td)
}

// GetX509BundleForTrustDomain returns the X.509 authorities of td, own or
// federated, or an error wrapping [ErrNoBundle]. It makes the View an
// x509bundle.Source.
func (v *View) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	b, err := v.bundle(td)
	if err != nil {
		return nil, err
	}
	return b.X509Bundle(), nil
}

// GetJWTBundleForTrustDomain returns the JWT authorities of td, own or
// federated, or an error wrapping [ErrNoBundle]. It makes the View a
// jwtbundle.Source.
func (v *View) GetJWTBundleForTrustDomain(td spiffeid.TrustDomain) (*jwtbundle.Bundle, error) {
	b, err := v.bundle(td)
	if err != nil {
		return nil, err
	}
	return b.JWTBundle(), nil
}

// IsRevoked reports whether the revocation set covers a credential of
// kind ("jti", "client_id", "x509_serial" or "spiffe_id") and value issued
// at issuedAt; an unknown kind is never revoked. It makes the View an
// authn.RevocationChecker.
func (v *View) IsRevoked(kind, value string, issuedAt time.Time) bool {
	return v.revoked.Load().IsRevoked(kind, value, issuedAt)
}

// PolicyEngine returns the policy engine the View loads each policy
// revision into; it is the same Engine for the View's life, and swaps
// revisions atomically. Before any policy set it holds the empty set.
func (v *View) PolicyEngine() *policy.Engine { return v.engine }

// TokenKeys returns the token service's public keys, nil before any. The
// set must not be modified.
func (v *View) TokenKeys() *jose.JSONWebKeySet { return v.cur.Load().tokenKeys }

// Key returns the token service's public key with the given key ID, or
// an error wrapping authn.ErrUnknownKey. It makes the View an
// authn.KeySource, the token keys of the enforcer.
func (v *View) Key(_ context.Context, kid string) (crypto.PublicKey, error) {
	if ks := v.cur.Load().tokenKeys; ks != nil {
		for _, k := range ks.Key(kid) {
			if k.IsPublic() {
				return k.Key, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %q", authn.ErrUnknownKey, kid)
}
