package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
)

// Timing defaults; tests shorten them through the unexported fields of
// Agent.
const (
	defaultBackoffBase = 500 * time.Millisecond
	defaultBackoffMax  = 30 * time.Second
	// defaultTick bounds every wait for a time computed from the clock, so
	// that a clock step (suspend, NTP) delays a renewal by at most a tick.
	defaultTick = time.Second
	// defaultIdleSVIDTimeout is how long an X509-SVID no workload watches
	// is kept for a workload that fetches again.
	defaultIdleSVIDTimeout = 2 * time.Minute
)

// Agent is a node agent: create it with [New], run it with [Agent.Run].
type Agent struct {
	cfg       Config
	logger    *slog.Logger
	clock     func() time.Time
	serverURL *url.URL
	pinnedTD  spiffeid.TrustDomain // from Config.TrustDomain
	roots     []*x509.Certificate  // bootstrap roots

	ident    identity
	state    *state
	svids    *svidCache
	jwts     *jwtCache
	attestor *workloadAttestor
	metrics  *metrics
	// telemetry buffers the proxies' call records for the server.
	telemetry *telemetryBuffer

	client     atomic.Pointer[http.Client] // mTLS client of the server
	reconnect  chan struct{}               // asks the sync stream to reconnect
	ready      chan struct{}               // closed once the agent has an identity
	readyOnce  sync.Once
	createdDir bool // New made the data folder: it did not exist
	connected  atomic.Bool
	lastSync   atomic.Int64 // Unix nanoseconds of the last message
	ran        atomic.Bool
	healthAddr atomic.Pointer[string]

	// changed is notified whenever what Status reports may have changed
	// (the connection, the identity, the cache, the SVIDs held and their
	// watchers), last thing after the change; tests wait on it.
	changed *broadcaster

	// Timings, shortened by tests.
	backoffBase, backoffMax time.Duration
	heartbeatTimeout        time.Duration // a sync stream silent this long is dead
	tick                    time.Duration
	idleSVIDTimeout         time.Duration
	feedHeartbeat           time.Duration // zero: dataplane.HeartbeatInterval
}

// New validates cfg, loads the identity, cache and workload SVIDs the data
// folder holds, and creates the folder (0700) if the agent can start: not
// when New fails. It does no network I/O: attestation
// happens in Run. Persisted workload SVIDs that cannot be trusted (a file
// group or others may access, one that does not authenticate, SVIDs
// expired, revoked, or for entries no longer active) are logged and left
// out; they never make New fail.
//
// It returns an error for an invalid Config, [ErrNoIdentity] when there is
// neither a valid identity nor a join token, [ErrNoTrustBundle] when a first
// start has no way to verify the server, or the error of reading the data
// folder.
func New(cfg Config) (*Agent, error) {
	u, roots, td, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, logger: cfg.Logger, clock: cfg.Clock, serverURL: u, pinnedTD: td, roots: roots,
		reconnect: make(chan struct{}, 1), ready: make(chan struct{}), changed: newBroadcaster(),
		backoffBase: defaultBackoffBase, backoffMax: defaultBackoffMax,
		heartbeatTimeout: 2 * agentproto.HeartbeatInterval, tick: defaultTick, idleSVIDTimeout: defaultIdleSVIDTimeout}
	a.metrics = newMetrics()
	a.telemetry = newTelemetryBuffer(a.metrics.reg)
	a.state = newState(cfg.Clock, td)
	a.state.changes.also = a.changed
	if _, err := loadState(cfg.DataDir, a.state); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if held := a.state.trustDomain(); !td.IsZero() && !held.IsZero() && held != td {
		return nil, fmt.Errorf("agent: the data folder is for trust domain %s, not %s", held, td)
	}
	svid, err := loadIdentity(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if svid != nil {
		if held := a.state.trustDomain(); held.IsZero() || !isAgentID(svid.ID, held) {
			return nil, fmt.Errorf("agent: the data folder's SVID %s does not match its state", svid.ID)
		}
		if a.clock().Before(svid.Certificates[0].NotAfter) {
			a.ident.set(svid)
			if !cfg.JoinToken.IsZero() {
				a.logger.Info("the data folder holds an identity; the join token is not used", "spiffe_id", svid.ID.String())
			}
		} else if cfg.JoinToken.IsZero() {
			return nil, fmt.Errorf("%w: the agent SVID expired at %v; start again with a new join token",
				ErrNoIdentity, svid.Certificates[0].NotAfter.UTC())
		}
	}
	if a.ident.get() == nil {
		switch {
		case cfg.JoinToken.IsZero():
			return nil, fmt.Errorf("%w: %s holds no agent identity", ErrNoIdentity, cfg.DataDir)
		case len(roots) == 0 && a.state.ownBundle() == nil && !cfg.InsecureBootstrap:
			return nil, ErrNoTrustBundle
		}
	}
	// Only now that the agent can start is its data folder made; Run
	// removes it again if the first start fails before attestation.
	if _, err := os.Stat(cfg.DataDir); errors.Is(err, fs.ErrNotExist) {
		a.createdDir = true
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: data folder: %w", err)
	}
	store, persisted := openSVIDStore(cfg.DataDir, a.logger)
	a.svids = newSVIDCache(svidCacheConfig{
		minter: a, state: a.state, clock: a.clock, logger: a.logger, metrics: a.metrics, changed: a.changed,
		store: store, online: a.connected.Load,
	})
	if persisted != nil {
		a.svids.restore(persisted)
	}
	a.jwts = newJWTCache(a, a.state, a.clock)
	a.attestor = newWorkloadAttestor(procFS{root: "/proc", hashes: newHashCache()}, a.logger)
	return a, nil
}

// Run attests the agent if it has no identity yet, then runs until ctx is
// done: the sync stream, the renewal of the agent's and the workloads'
// SVIDs, the Workload API on the socket and the health server, as tasks
// that stop together. Run may be called once.
//
// It returns nil after ctx is done, [ErrEvicted] after the server evicted
// the agent (its identity and cache are then deleted),
// [ErrAttestationRefused] if the join token was refused, or the error of
// the first task that failed (such as a socket that cannot be bound). A
// first start that fails before the agent has an identity removes the data
// folder New created.
func (a *Agent) Run(ctx context.Context) (err error) {
	if !a.ran.CompareAndSwap(false, true) {
		return errors.New("agent: Run called twice")
	}
	defer func() { a.removeUnusedDataDir(err) }()
	api, err := a.listenWorkloadAPI()
	if err != nil {
		return err
	}
	dp, err := a.listenDataPlane()
	if err != nil {
		api.close()
		return err
	}
	tasks := []task{{"workload-api", api.run}, {"dataplane", dp.run}}
	if a.cfg.HealthAddr != "" {
		h, err := a.listenHealth()
		if err != nil {
			api.close()
			dp.close()
			return err
		}
		tasks = append(tasks, task{"health", h.run})
	}
	tasks = append(tasks, task{"control", a.runControl})
	a.logger.Info("kith agent starting", "server", a.serverURL.String(), "socket", a.cfg.SocketPath)
	err = runTasks(ctx, tasks)
	if errors.Is(err, ErrEvicted) {
		a.dropIdentity()
	}
	a.logger.Info("kith agent stopped", "error", err)
	return err
}

// runControl obtains the identity, then runs the parts that talk to the
// server.
func (a *Agent) runControl(ctx context.Context) error {
	if err := a.ensureIdentity(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	a.client.Store(mtlsClient(&a.ident, ownX509Source{a.state}, a.state.trustDomain()))
	a.readyOnce.Do(func() { close(a.ready) })
	return runTasks(ctx, []task{
		{"sync", a.runSync},
		{"agent-svid", a.runRenewal},
		{"svid-rotation", a.svids.run(a.tick, a.idleSVIDTimeout)},
		{"telemetry", a.runTelemetry},
	})
}

// dropIdentity forgets everything after an eviction.
func (a *Agent) dropIdentity() {
	a.svids.clear()
	a.jwts.clear()
	a.state.clear()
	a.ident.cur.Store(nil)
	a.changed.notify()
	if err := removeIdentity(a.cfg.DataDir); err != nil {
		a.logger.Error("delete the evicted identity", "error", err)
	}
	a.logger.Warn("agent evicted: identity, cache and workload SVIDs dropped")
}

// removeUnusedDataDir removes the data folder New created if Run failed
// (err) before the agent had an identity: a first start that could not
// attest leaves nothing behind.
func (a *Agent) removeUnusedDataDir(err error) {
	select {
	case <-a.ready:
		return
	default:
	}
	if err == nil || !a.createdDir {
		return
	}
	if rerr := os.RemoveAll(a.cfg.DataDir); rerr != nil {
		a.logger.Warn("remove the data folder of a failed first start", "dir", a.cfg.DataDir, "error", rerr)
	}
}

// Ready returns a channel closed once the agent has an identity (loaded or
// attested) and is connecting to the server.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// SPIFFEID returns the agent's SPIFFE ID, or the zero ID before it has one.
func (a *Agent) SPIFFEID() spiffeid.ID {
	if s := a.ident.get(); s != nil {
		return s.ID
	}
	return spiffeid.ID{}
}

// IsRevoked reports whether the revocation set the agent holds covers a
// credential; kind is "jti", "client_id", "x509_serial" or "spiffe_id". It
// makes the agent an authn.RevocationChecker for verifiers on its node.
func (a *Agent) IsRevoked(kind, value string, issuedAt time.Time) bool {
	return a.state.IsRevoked(kind, value, issuedAt)
}

// httpClient returns the mTLS client of the server.
func (a *Agent) httpClient() *http.Client { return a.client.Load() }

// task is a long-lived part of the agent: it runs until ctx is done and
// returns nil then, or returns an error that stops the others.
type task struct {
	name string
	run  func(ctx context.Context) error
}

// errStoppedEarly is the cause when a task returns nil before shutdown.
var errStoppedEarly = errors.New("stopped before shutdown")

// runTasks runs every task until ctx is done or one of them fails; then it
// cancels the rest, waits for all of them, and returns the first error.
func runTasks(parent context.Context, tasks []task) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Go(func() {
			if err := t.run(ctx); err != nil {
				cancel(fmt.Errorf("%s: %w", t.name, err))
			} else if ctx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", t.name, errStoppedEarly))
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	err := context.Cause(ctx)
	if parent.Err() != nil && err == context.Cause(parent) {
		return nil // shut down from outside
	}
	return err
}
