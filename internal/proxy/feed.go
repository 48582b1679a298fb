package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/dataplane"
	"github.com/kith-dev/kith/internal/enforce"
)

// FeedConfig configures [NewFeed]. Zero values are documented defaults.
type FeedConfig struct {
	// DataPlaneSocket is the Unix socket of the node agent's data-plane
	// feed. Required.
	DataPlaneSocket string
	// Logger receives the feed's operational logs (connections, rejected
	// revocation batches); nil discards them.
	Logger *slog.Logger
	// AccessLog receives one line per call at Info, and failed telemetry
	// uploads; nil discards them.
	AccessLog *slog.Logger
	// NoUpload keeps the call records in this process: they are counted
	// in the metrics and logged, but not sent to the agent (which forwards
	// them to the server's ledger).
	NoUpload bool
	// FlushInterval is the longest a call record waits for its upload;
	// DefaultFlushInterval (100ms) when zero.
	FlushInterval time.Duration
}

// Feed is what a proxy, or the kithhttp middleware, holds from its node
// agent: the data-plane view the agent feeds (trust bundles, revocations,
// the token service's issuer and keys, policies) and the [Telemetry]
// whose call records go back to the agent over the same socket. Every
// enforcer on a node is built from it the same way, by [Feed.Enforcer].
type Feed struct {
	view     *dataplane.View
	tel      *Telemetry
	uploader *AgentUploader // nil with NoUpload
}

// NewFeed returns a Feed for cfg; it does no I/O until [Feed.Run]. It
// returns an error if DataPlaneSocket is empty.
func NewFeed(cfg FeedConfig) (*Feed, error) {
	if cfg.DataPlaneSocket == "" {
		return nil, errors.New("proxy: FeedConfig.DataPlaneSocket is required")
	}
	view, err := dataplane.New(dataplane.Config{SocketPath: cfg.DataPlaneSocket, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	f := &Feed{view: view}
	tcfg := TelemetryConfig{Logger: cfg.AccessLog, FlushInterval: cfg.FlushInterval}
	if !cfg.NoUpload {
		f.uploader = NewAgentUploader(cfg.DataPlaneSocket)
		tcfg.Uploader = f.uploader
	}
	if f.tel, err = NewTelemetry(tcfg); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return f, nil
}

// Run follows the agent's feed, reconnecting whenever the agent goes away
// and serving what the view holds meanwhile, and uploads call records in
// batches, until ctx is done. Then it sends the records still queued
// (waiting up to two seconds), releases its connection to the agent and
// returns nil.
func (f *Feed) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	var viewErr error
	wg.Go(func() { viewErr = f.view.Run(ctx) })
	telErr := f.tel.Run(ctx)
	wg.Wait()
	if f.uploader != nil {
		f.uploader.Close()
	}
	return errors.Join(viewErr, telErr)
}

// Ready returns a channel closed once the view holds the agent's full
// state; until then an enforcer of the Feed refuses every call.
func (f *Feed) Ready() <-chan struct{} { return f.view.Ready() }

// View returns the data-plane view the Feed follows.
func (f *Feed) View() *dataplane.View { return f.view }

// Telemetry returns the Feed's telemetry: the proxies and the middleware
// record their calls in it, and [Telemetry.Handler] serves its metrics.
func (f *Feed) Telemetry() *Telemetry { return f.tel }

// EnforcerConfig says what an enforcer built by [Feed.Enforcer] protects.
type EnforcerConfig struct {
	// Target is the SPIFFE ID of the protected service. Required.
	Target spiffeid.ID
	// AllowNoClientCert lets callers without an X509-SVID in when they
	// present an access token (gateway mode).
	AllowNoClientCert bool
}

// Enforcer returns the enforcer of cfg.Target, fed by the view: trust
// bundles, revocations, policies, the token service's issuer and keys, and
// callers' trust states (the policy's `trust` variable),
// all read on every call, so that what the agent pushes later (an issuer
// published after start included) takes effect without a restart. It
// returns the error of enforce.New.
func (f *Feed) Enforcer(cfg EnforcerConfig) (*enforce.Enforcer, error) {
	return enforce.New(enforce.Config{Target: cfg.Target, Bundles: f.view, Revocations: f.view,
		Policy: f.view.PolicyEngine(), Issuers: f.view, Keys: f.view, Trust: f.view, AllowNoClientCert: cfg.AllowNoClientCert})
}
