package federation

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	spiffefed "github.com/spiffe/go-spiffe/v2/federation"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// NewBundleHandler returns the bundle endpoint of trust domain td: an HTTP
// handler that answers GET with own's current bundle as SPIFFE bundle JSON
// (application/json), 405 to any other method, and 500 while own has no
// bundle for td. It reads own on every request, so a rotated bundle is
// served at once. Serving it over TLS (https_web or https_spiffe) is the
// caller's job. A nil logger discards.
func NewBundleHandler(td spiffeid.TrustDomain, own OwnBundleSource, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	src := ownSource{td: td, own: own}
	h, err := spiffefed.NewHandler(td, src, spiffefed.WithLogger(slogAdapter{logger}))
	if err != nil {
		// NewHandler fails only on a bad option, and ours are fixed.
		logger.Error("federation: cannot build bundle handler", "error", err)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "bundle endpoint unavailable", http.StatusInternalServerError)
		})
	}
	return h
}

// ownSource adapts an OwnBundleSource to spiffebundle.Source for td.
type ownSource struct {
	td  spiffeid.TrustDomain
	own OwnBundleSource
}

func (s ownSource) GetBundleForTrustDomain(td spiffeid.TrustDomain) (*spiffebundle.Bundle, error) {
	if td != s.td {
		return nil, fmt.Errorf("no bundle for trust domain %q", td)
	}
	if s.own == nil {
		return nil, errors.New("no own bundle source")
	}
	b := s.own.Bundle()
	if b == nil {
		return nil, errors.New("own bundle not available yet")
	}
	if b.TrustDomain() != td {
		return nil, fmt.Errorf("own bundle is for trust domain %q, not %q", b.TrustDomain(), td)
	}
	return b, nil
}

// slogAdapter lets go-spiffe log through slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debugf(format string, args ...any) { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Infof(format string, args ...any)  { a.l.Info(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Warnf(format string, args ...any)  { a.l.Warn(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Errorf(format string, args ...any) { a.l.Error(fmt.Sprintf(format, args...)) }
