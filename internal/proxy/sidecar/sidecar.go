// Package sidecar runs `kith proxy`, the data-plane proxy process beside a
// workload (or, as a gateway, in front of several). [Run] connects to the
// node agent — its Workload API for the workload's X509-SVID, its
// data-plane feed for trust bundles, revocations, the token service's keys
// and the policies — and serves the inbound, outbound and TCP proxies of
// package proxy that its [Config] asks for, with access tokens on outbound
// calls and Prometheus metrics.
//
// It is the proxy's composition root: wiring, not request logic (packages
// proxy and enforce own that). It links go-spiffe's Workload API client
// and so gRPC, which is why it stands apart from package proxy, which the
// kithhttp SDK links. It never imports sdk/ or the server's packages and
// links no SQL driver.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/httpserve"
	"github.com/kith-dev/kith/internal/proxy"
)

// Config configures [Run]. Zero values are documented defaults.
type Config struct {
	// WorkloadSocket is the Unix socket of the agent's Workload API; the
	// proxies serve and call with the workload's X509-SVID from it.
	// Required.
	WorkloadSocket string
	// DataPlaneSocket is the Unix socket of the agent's data-plane feed.
	// Required.
	DataPlaneSocket string
	// Inbound, if set, is the proxy in front of the workload.
	Inbound *Inbound
	// Outbound are the proxies the workload calls others through. At
	// least one of Inbound and Outbound is required.
	Outbound []Outbound
	// Tokens configures the access tokens outbound calls carry; the zero
	// value attaches none.
	Tokens Tokens
	// MetricsAddr, if set, is the address to serve the Prometheus metrics
	// on, at /metrics over plain HTTP.
	MetricsAddr string
	// Logger receives the operational logs and the access log (a line per
	// call at Info); nil discards them.
	Logger *slog.Logger
	// Ready, if set, is called once every proxy and the metrics server
	// serve.
	Ready func()
}

// Inbound is the inbound proxy: it serves mutual TLS on Addr, verifies and
// decides every call for Target, and forwards the allowed ones to
// Upstream.
type Inbound struct {
	// Addr is the address to serve mutual TLS on. Required.
	Addr string
	// Upstream is the workload: an http:// URL or, with TCP, a host:port.
	// Required.
	Upstream string
	// Target is the workload's SPIFFE ID: policies are looked up for it
	// and tokens must name it as their audience. Required.
	Target spiffeid.ID
	// TCP proxies raw TCP, with mutual TLS and identity policy only.
	TCP bool
	// H2C forwards to the upstream over h2c (for gRPC); HTTP only.
	H2C bool
	// AllowNoClientCert accepts callers without an X509-SVID that present
	// an access token (gateway mode).
	AllowNoClientCert bool
}

// Outbound is an outbound proxy: it takes plain HTTP from the workload on
// Addr and calls Destination over mutual TLS.
type Outbound struct {
	// Addr is the local address the workload sends plain HTTP to.
	// Required.
	Addr string
	// Destination is the host:port called. Required.
	Destination string
	// DestinationID is the SPIFFE ID Destination must present. Required.
	DestinationID spiffeid.ID
}

// validate checks cfg before Run does any I/O.
// Check reports what [Run] would refuse in cfg before starting anything;
// it returns the same errors.
func (cfg Config) Check() error { return cfg.validate() }

func (cfg *Config) validate() error {
	switch {
	case cfg.WorkloadSocket == "" || cfg.DataPlaneSocket == "":
		return errors.New("sidecar: Config needs WorkloadSocket and DataPlaneSocket")
	case cfg.Inbound == nil && len(cfg.Outbound) == 0:
		return errors.New("sidecar: Config needs an Inbound or an Outbound proxy")
	}
	if in := cfg.Inbound; in != nil {
		if in.Addr == "" || in.Upstream == "" || in.Target.IsZero() {
			return errors.New("sidecar: Inbound needs Addr, Upstream and Target")
		}
		if u, err := url.Parse(in.Upstream); !in.TCP && (err != nil || u.Scheme != "http" || u.Host == "") {
			return fmt.Errorf("sidecar: Inbound.Upstream %q is not an http:// URL", in.Upstream)
		}
	}
	for _, o := range cfg.Outbound {
		if o.Addr == "" || o.Destination == "" || o.DestinationID.IsZero() {
			return errors.New("sidecar: Outbound needs Addr, Destination and DestinationID")
		}
	}
	return cfg.Tokens.validate(len(cfg.Outbound))
}

// Run runs the proxies cfg asks for until ctx is done, then stops them and
// returns nil. It validates cfg first, and returns an error if it is
// invalid, if the Workload API gives no X509-SVID, if the outbound token
// source cannot be built, if an address cannot be listened on, or once a
// part of the proxy fails (the others are stopped first). If ctx is done
// before the agent sent its data-plane state, it returns ctx's error.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	feed, err := proxy.NewFeed(proxy.FeedConfig{DataPlaneSocket: cfg.DataPlaneSocket, Logger: logger, AccessLog: logger})
	if err != nil {
		return err
	}

	// Deferred in this order, the parts stop first, then the sources
	// they used are closed.
	var closers []io.Closer
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i].Close()
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := func(run func(context.Context) error) {
		wg.Go(func() {
			if err := run(ctx); err != nil {
				cancel(&partError{err})
			}
		})
	}
	// failed returns the first part's error, if one failed, else err.
	failed := func(err error) error {
		if pe := (*partError)(nil); errors.As(context.Cause(ctx), &pe) {
			return pe.err
		}
		return err
	}

	start(feed.Run) // it must run while Run waits for it below
	workloadAddr := "unix://" + cfg.WorkloadSocket
	x509, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr(workloadAddr)))
	if err != nil {
		return fmt.Errorf("workload API: %w", err)
	}
	closers = append(closers, x509)
	select {
	case <-feed.Ready():
	case <-ctx.Done():
		return failed(ctx.Err())
	}

	if in := cfg.Inbound; in != nil {
		run, err := inbound(in, feed, x509, logger)
		if err != nil {
			return err
		}
		start(run)
		logger.Info("inbound proxy", "listen", in.Addr, "upstream", in.Upstream, "target", in.Target.String(), "tcp", in.TCP)
	}
	var tokens proxy.TokenTransport
	if len(cfg.Outbound) > 0 && cfg.Tokens.TokenURL != "" {
		ts, closer, err := cfg.Tokens.source(ctx, workloadAddr, x509)
		if err != nil {
			return fmt.Errorf("outbound tokens: %w", err)
		}
		closers = append(closers, closer)
		tokens = ts
	}
	for _, o := range cfg.Outbound {
		p, err := proxy.NewOutbound(proxy.OutboundConfig{Addr: o.Addr, Destination: o.Destination, DestinationID: o.DestinationID,
			SVID: x509, Bundles: feed.View(), Revocations: feed.View(), Tokens: tokens, Telemetry: feed.Telemetry(), Logger: logger})
		if err != nil {
			return err
		}
		start(p.Run)
		logger.Info("outbound proxy", "listen", o.Addr, "destination", o.Destination, "id", o.DestinationID.String())
	}
	if cfg.MetricsAddr != "" {
		run, err := metrics(cfg.MetricsAddr, feed.Telemetry())
		if err != nil {
			return err
		}
		start(run)
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	<-ctx.Done()
	return failed(nil)
}

// partError is the cause Run's context is cancelled with when a part of
// the proxy fails.
type partError struct{ err error }

func (e *partError) Error() string { return e.err.Error() }

// inbound builds the inbound proxy in, HTTP or TCP, and returns its Run.
func inbound(in *Inbound, feed *proxy.Feed, svid x509svid.Source, logger *slog.Logger) (func(context.Context) error, error) {
	enf, err := feed.Enforcer(proxy.EnforcerConfig{Target: in.Target, AllowNoClientCert: in.AllowNoClientCert})
	if err != nil {
		return nil, err
	}
	if in.TCP {
		p, err := proxy.NewTCP(proxy.TCPConfig{Addr: in.Addr, Upstream: in.Upstream, Enforcer: enf, SVID: svid,
			Telemetry: feed.Telemetry(), Logger: logger})
		if err != nil {
			return nil, err
		}
		return p.Run, nil
	}
	u, err := url.Parse(in.Upstream) // validated
	if err != nil {
		return nil, err
	}
	p, err := proxy.NewInbound(proxy.InboundConfig{Addr: in.Addr, Upstream: u, H2C: in.H2C, Enforcer: enf, SVID: svid,
		Telemetry: feed.Telemetry(), Logger: logger})
	if err != nil {
		return nil, err
	}
	return p.Run, nil
}

// metrics listens on addr and returns the Run of a server of tel's
// metrics at /metrics.
func metrics(addr string, tel *proxy.Telemetry) (func(context.Context) error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", tel.Handler())
	return func(ctx context.Context) error {
		return httpserve.Run(ctx, ln, httpserve.Config{Handler: mux, ShutdownTimeout: 5 * time.Second})
	}, nil
}
