package kithhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/proxy"
)

// DefaultDataPlaneSocket is the node agent's data-plane socket when the
// agent runs with its defaults: <data folder>/private/dataplane.sock, with
// the data folder relative to the agent's working directory. Services
// should set [AgentConfig.DataPlaneSocket] to the absolute path the agent
// was given.
const DefaultDataPlaneSocket = "kith-agent-data/private/dataplane.sock"

// AgentConfig configures [FromAgent]. Zero values of optional fields are
// documented defaults.
type AgentConfig struct {
	// DataPlaneSocket is the Unix socket of the node agent's data-plane
	// feed (the agent's DataPlaneSocketPath); [DefaultDataPlaneSocket]
	// when empty. The service must run as a user the agent's socket
	// admits (the agent's user or group).
	DataPlaneSocket string
	// Target is this service's SPIFFE ID: policies are looked up for it
	// and tokens must name it as their audience. Required.
	Target spiffeid.ID
	// AllowNoClientCert accepts callers without an X509-SVID that present
	// an access token (a gateway's callers), as the proxy's
	// --allow-no-client-cert does.
	AllowNoClientCert bool
	// Observe is [Config.Observe].
	Observe func(r *http.Request, res *enforce.Result)
	// Logger receives the feed's operational logs (connections, rejected
	// revocation batches, failed telemetry uploads); nil discards them.
	Logger *slog.Logger
	// AccessLog, if set, receives one line per call at Info, as the
	// proxy's access log.
	AccessLog *slog.Logger
	// NoTelemetry stops the middleware from sending call records to the
	// agent, which forwards them to the server for the ledger; the
	// middleware's metrics are kept.
	NoTelemetry bool
}

// FromAgent returns a Middleware fed by the node agent, as the `kith
// proxy` sidecar is: it follows the agent's data-plane feed at
// cfg.DataPlaneSocket in a goroutine of its own, for trust bundles,
// revocations, the token service's keys and issuer, and the policies;
// and, unless cfg.NoTelemetry, it sends a record of every call back over
// the same socket, in batches, for the ledger.
//
// FromAgent blocks until the agent has sent its full state, or ctx is
// done; give ctx a deadline. After that, ctx is not used: the feed runs,
// reconnecting whenever the agent goes away and serving what it holds
// meanwhile, until the returned Closer is closed. Close stops the feed,
// sends the call records still queued (waiting up to two seconds) and
// returns nil.
//
// It returns an error if Target is zero, or one wrapping ctx's error when
// ctx is done before the agent answered with its state.
func FromAgent(ctx context.Context, cfg AgentConfig) (*Middleware, io.Closer, error) {
	if cfg.Target.IsZero() {
		return nil, nil, errors.New("kithhttp: AgentConfig.Target is required")
	}
	if cfg.DataPlaneSocket == "" {
		cfg.DataPlaneSocket = DefaultDataPlaneSocket
	}
	af, err := proxy.NewFeed(proxy.FeedConfig{DataPlaneSocket: cfg.DataPlaneSocket, Logger: cfg.Logger,
		AccessLog: cfg.AccessLog, NoUpload: cfg.NoTelemetry})
	if err != nil {
		return nil, nil, fmt.Errorf("kithhttp: %w", err)
	}
	// The feed outlives ctx, which only bounds the wait below.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &feed{cancel: cancel, done: make(chan struct{})}
	go func() {
		_ = af.Run(runCtx) // returns nil once runCtx is done, the queued records sent
		close(f.done)
	}()
	select {
	case <-af.Ready():
	case <-ctx.Done():
		f.Close()
		return nil, nil, fmt.Errorf("kithhttp: waiting for the agent's data-plane feed at %s: %w", cfg.DataPlaneSocket, context.Cause(ctx))
	}
	enf, err := af.Enforcer(proxy.EnforcerConfig{Target: cfg.Target, AllowNoClientCert: cfg.AllowNoClientCert})
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("kithhttp: %w", err)
	}
	mw, err := New(Config{Enforcer: enf, Observe: cfg.Observe, Telemetry: af.Telemetry()})
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return mw, f, nil
}

// feed owns the goroutine that runs the agent's feed.
type feed struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Close stops the feed and waits for its goroutine. It returns nil.
func (f *feed) Close() error {
	f.cancel()
	<-f.done
	return nil
}
