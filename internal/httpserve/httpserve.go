// Package httpserve runs an HTTP server inside a Run(ctx) the way every
// long-lived Kith listener does: with bounded header, read, write and idle
// times and header size, the server's own errors logged at Debug, and a
// graceful shutdown within a timeout once ctx is done.
//
// It owns the lifecycle and the hardening of one http.Server, nothing
// else: no routes, no TLS certificates of its own, no access log.
package httpserve

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Config configures [Run]. Zero values are documented defaults.
type Config struct {
	// Handler answers the requests. Required.
	Handler http.Handler
	// TLSConfig, if set, makes Run serve HTTPS with the certificates it
	// gives; nil serves plain HTTP.
	TLSConfig *tls.Config
	// ReadHeaderTimeout bounds reading a request's headers; 10 seconds
	// when zero.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request; 30 seconds when zero.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer; 30 seconds when zero.
	WriteTimeout time.Duration
	// IdleTimeout bounds an idle keep-alive connection; 120 seconds when
	// zero.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers; 64 KiB when zero.
	MaxHeaderBytes int
	// ShutdownTimeout bounds the graceful shutdown once ctx is done; 10
	// seconds when zero.
	ShutdownTimeout time.Duration
	// Logger receives the server's own errors (such as TLS handshake
	// failures) at Debug; nil discards them.
	Logger *slog.Logger
}

// Run serves cfg.Handler on l until ctx is done, then shuts the server
// down gracefully, waiting up to ShutdownTimeout for the calls in flight.
// It returns an error if Handler is nil, the error of Serve if serving
// stops before ctx is done, or the error of Shutdown.
func Run(ctx context.Context, l net.Listener, cfg Config) error {
	if cfg.Handler == nil {
		return errors.New("httpserve: Config.Handler is required")
	}
	or := func(d, def time.Duration) time.Duration {
		if d == 0 {
			return def
		}
		return d
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxHeaderBytes == 0 {
		cfg.MaxHeaderBytes = 64 << 10
	}
	hs := &http.Server{
		Handler:           cfg.Handler,
		TLSConfig:         cfg.TLSConfig,
		ReadHeaderTimeout: or(cfg.ReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       or(cfg.ReadTimeout, 30*time.Second),
		WriteTimeout:      or(cfg.WriteTimeout, 30*time.Second),
		IdleTimeout:       or(cfg.IdleTimeout, 120*time.Second),
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSConfig != nil {
			errc <- hs.ServeTLS(l, "", "")
		} else {
			errc <- hs.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), or(cfg.ShutdownTimeout, 10*time.Second))
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	return err
}
