package federation

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

// Store is the persistence the Manager needs. Records are keyed by trust
// domain name.
type Store interface {
	// PutFederation creates or replaces the record for f.TrustDomain.
	PutFederation(ctx context.Context, f store.Federation) error
	// GetFederation returns the record for td, or an error wrapping
	// store.ErrNotFound.
	GetFederation(ctx context.Context, td string) (store.Federation, error)
	// ListFederations returns all records.
	ListFederations(ctx context.Context) ([]store.Federation, error)
	// DeleteFederation deletes the record for td, or returns an error
	// wrapping store.ErrNotFound.
	DeleteFederation(ctx context.Context, td string) error
}

// Auditor records audit events; see [ledger.Ledger.Record].
type Auditor interface {
	Record(ctx context.Context, ev audit.Event) (int64, error)
}

// Config configures a [Manager].
type Config struct {
	// OwnTrustDomain is our trust domain; it can never be federated.
	// Required.
	OwnTrustDomain spiffeid.TrustDomain
	// Store keeps relationships and their bundles. Required.
	Store Store
	// Auditor records additions, removals and refreshes. Required.
	Auditor Auditor
	// OwnBundle is our own bundle. It is needed only to authenticate an
	// https_spiffe endpoint whose SPIFFE ID is in our own trust domain;
	// nil refuses such relationships.
	OwnBundle OwnBundleSource
	// WebPKIRoots authenticates https_web endpoints; nil means the system
	// roots.
	WebPKIRoots *x509.CertPool
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// HTTPTimeout bounds one bundle fetch; zero means 10s.
	HTTPTimeout time.Duration
}

// Status is a relationship with the state of its bundle.
type Status struct {
	Relationship
	// Sequence is the spiffe_sequence of the bundle held, zero if absent.
	Sequence uint64
	// X509Authorities and JWTAuthorities count the authorities in the
	// bundle held.
	X509Authorities int
	JWTAuthorities  int
	// LastRefresh is when the bundle was last fetched successfully.
	LastRefresh time.Time
	// NextRefresh is when the bundle is due to be fetched again.
	NextRefresh time.Time
	// LastError is the error of the last refresh, empty after a success.
	LastError string
}

// Manager keeps the federation relationships and their foreign bundles.
// Its methods are safe for concurrent use. It implements
// [spiffebundle.Source] for foreign trust domains only.
type Manager struct {
	own         spiffeid.TrustDomain
	store       Store
	auditor     Auditor
	ownBundle   OwnBundleSource
	webRoots    *x509.CertPool
	clock       func() time.Time
	logger      *slog.Logger
	httpTimeout time.Duration

	// addMu serializes Add so that two calls cannot federate the same
	// trust domain at once.
	addMu sync.Mutex
	// mu guards entries and the fields of every entry it holds.
	mu      sync.RWMutex
	entries map[spiffeid.TrustDomain]*entry
	// wake tells Run to recompute its schedule.
	wake    chan struct{}
	running atomic.Bool
}

// entry is one relationship held in memory.
type entry struct {
	// op serializes the operations that change this entry (refresh,
	// remove); it is held across network and store I/O, unlike
	// Manager.mu. Holding op, a caller may copy state out under a read
	// lock and write it back later.
	op sync.Mutex

	// The fields below are guarded by Manager.mu.
	state
	inflight bool // Run has a refresh of this entry pending
	removed  bool
}

// state is what is known of one relationship and its bundle.
type state struct {
	rel         Relationship
	bundle      *spiffebundle.Bundle // the latest accepted bundle, never nil
	createdAt   time.Time
	lastRefresh time.Time
	nextRefresh time.Time
	lastError   string
	failures    int // consecutive failed refreshes
}

// New returns a Manager holding the relationships and bundles found in
// cfg.Store. It fails if a required Config field is missing, if
// HTTPTimeout is negative, or if the store cannot be listed. Stored records
// that cannot be read back are logged and left out.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	switch {
	case cfg.OwnTrustDomain.IsZero():
		return nil, errors.New("federation: Config.OwnTrustDomain is required")
	case cfg.Store == nil:
		return nil, errors.New("federation: Config.Store is required")
	case cfg.Auditor == nil:
		return nil, errors.New("federation: Config.Auditor is required")
	case cfg.HTTPTimeout < 0:
		return nil, fmt.Errorf("federation: Config.HTTPTimeout is negative (%v)", cfg.HTTPTimeout)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPTimeout == 0 {
		cfg.HTTPTimeout = 10 * time.Second
	}
	m := &Manager{
		own:         cfg.OwnTrustDomain,
		store:       cfg.Store,
		auditor:     cfg.Auditor,
		ownBundle:   cfg.OwnBundle,
		webRoots:    cfg.WebPKIRoots,
		clock:       cfg.Clock,
		logger:      cfg.Logger,
		httpTimeout: cfg.HTTPTimeout,
		entries:     make(map[spiffeid.TrustDomain]*entry),
		wake:        make(chan struct{}, 1),
	}
	recs, err := m.store.ListFederations(ctx)
	if err != nil {
		return nil, fmt.Errorf("federation: list stored relationships: %w", err)
	}
	for _, rec := range recs {
		e, err := m.entryFromRecord(rec)
		if err != nil {
			m.logger.Error("federation: skipping unreadable stored relationship",
				"trust_domain", rec.TrustDomain, "error", err)
			continue
		}
		m.entries[e.rel.TrustDomain] = e
	}
	return m, nil
}

// entryFromRecord rebuilds an entry from its stored form.
func (m *Manager) entryFromRecord(rec store.Federation) (*entry, error) {
	rel, err := relationshipFromRecord(rec, m.own)
	if err != nil {
		return nil, err
	}
	b, err := parseBundle(rel.TrustDomain, rec.Bundle)
	if err != nil {
		return nil, fmt.Errorf("stored bundle: %w", err)
	}
	return &entry{state: state{
		rel:         rel,
		bundle:      b,
		createdAt:   rec.CreatedAt,
		lastRefresh: rec.LastRefresh,
		nextRefresh: rec.NextRefresh,
		lastError:   rec.LastError,
	}}, nil
}

// record returns the stored form of s, written at now.
func (s state) record(now time.Time) (store.Federation, error) {
	data, err := s.bundle.Marshal()
	if err != nil {
		return store.Federation{}, fmt.Errorf("marshal bundle: %w", err)
	}
	return store.Federation{
		TrustDomain:       s.rel.TrustDomain.String(),
		BundleEndpointURL: s.rel.BundleEndpointURL,
		Profile:           string(s.rel.Profile),
		EndpointSPIFFEID:  s.rel.endpointIDString(),
		Bundle:            data,
		Sequence:          bundleSequence(s.bundle),
		LastRefresh:       s.lastRefresh,
		NextRefresh:       s.nextRefresh,
		LastError:         s.lastError,
		CreatedAt:         s.createdAt,
		UpdatedAt:         now,
	}, nil
}

// status returns the Status of s.
func (s state) status() Status {
	return Status{
		Relationship:    s.rel,
		Sequence:        bundleSequence(s.bundle),
		X509Authorities: len(s.bundle.X509Authorities()),
		JWTAuthorities:  len(s.bundle.JWTAuthorities()),
		LastRefresh:     s.lastRefresh,
		NextRefresh:     s.nextRefresh,
		LastError:       s.lastError,
	}
}

// List returns the status of every relationship, ordered by trust domain.
// It reads memory only and returns no error today; the error is reserved.
func (m *Manager) List(ctx context.Context) ([]Status, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Status, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, e.status())
	}
	slices.SortFunc(out, func(a, b Status) int {
		return cmp.Compare(a.TrustDomain.String(), b.TrustDomain.String())
	})
	return out, nil
}

// lookup returns the entry for td, or nil.
func (m *Manager) lookup(td spiffeid.TrustDomain) *entry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.entries[td]
}

// poke tells Run to recompute its schedule. It never blocks.
func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// isStoreNotFound reports whether err is the store's not-found condition.
func isStoreNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
