package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kith-dev/kith/internal/ledger"
)

// The server does not serve on an audit ledger whose store was altered
// without saying so. Before it serves, it checks the stored tree against
// the latest signed checkpoint and rehashes the most recent entries
// (ledger.VerifyRecent: a few thousand entries whatever the log's size).
// In the background it verifies the whole log every LedgerVerifyInterval
// (ledger.VerifyLog: about 15 s of one core for 10 million entries on
// SQLite), trusting the checkpoint the previous verification covered, so
// that a rollback or fork between two runs is caught too. A failure
// makes /readyz answer 503 with the reason, counts in
// kith_ledger_verification_failures_total and logs an error naming the
// first bad entry. It is not cleared until the server restarts: an
// altered audit log needs a person's attention, not a retry.

// DefaultLedgerVerifyInterval is how often the whole ledger is verified
// in the background when Config.LedgerVerifyInterval is zero.
const DefaultLedgerVerifyInterval = time.Hour

// ledgerHealth is what the server knows of its ledger's integrity.
type ledgerHealth struct {
	mu sync.Mutex
	// problem is the first verification failure; "" while none.
	problem string
	// trusted is the checkpoint the last whole-log verification covered.
	trusted *ledger.Checkpoint
	// verifiedAt and verifiedSize describe the last whole-log
	// verification that passed; zero before the first.
	verifiedAt   time.Time
	verifiedSize uint64
}

// failed returns the verification failure, or "".
func (h *ledgerHealth) failed() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.problem
}

// fail records a failure; the first one is kept.
func (h *ledgerHealth) fail(problem string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.problem == "" {
		h.problem = problem
	}
}

// passed records a whole-log verification that passed.
func (h *ledgerHealth) passed(cp *ledger.Checkpoint, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cp != nil {
		h.trusted, h.verifiedSize = cp, cp.Size
	}
	h.verifiedAt = at
}

// lastTrusted returns the checkpoint the last verification covered.
func (h *ledgerHealth) lastTrusted() *ledger.Checkpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.trusted
}

// verifiedTime and verifiedTreeSize are for the metrics.
func (h *ledgerHealth) verifiedTime() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.verifiedAt.IsZero() {
		return 0
	}
	return float64(h.verifiedAt.UnixNano()) / 1e9
}

func (h *ledgerHealth) verifiedTreeSize() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return float64(h.verifiedSize)
}

// checkLedgerAtStart runs the quick check of the ledger's end before the
// server serves. An altered ledger is reported (see ledgerFailed) but does
// not stop the server, so that its operator can still investigate it
// through the admin API; an error reading the store does.
func (s *Server) checkLedgerAtStart(ctx context.Context) error {
	rep, err := s.ledger.VerifyRecent(ctx, 0)
	switch {
	case errors.Is(err, ledger.ErrVerificationFailed):
		s.ledgerFailed(ctx, "at start", rep)
	case err != nil:
		return fmt.Errorf("ledger: check at start: %w", err)
	default:
		s.logger.Debug("ledger: the end of the log verified", "size", rep.Size)
	}
	return nil
}

// runLedgerVerify verifies the whole ledger now and then every
// LedgerVerifyInterval until ctx is done; a negative interval turns it
// off.
func (s *Server) runLedgerVerify(ctx context.Context) error {
	if s.cfg.LedgerVerifyInterval < 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.cfg.LedgerVerifyInterval)
	defer t.Stop()
	for {
		s.verifyLedger(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// verifyLedger verifies every entry the latest checkpoint covers against
// it and the previously verified checkpoint, then the entries appended
// since against the stored tree, and records the outcome.
func (s *Server) verifyLedger(ctx context.Context) {
	start := time.Now()
	rep, err := ledger.VerifyLog(ctx, s.ledger.Source(), ledger.VerifyOptions{
		Verifier: s.ledger.Verifier(), Trusted: s.health.lastTrusted(),
	})
	if errors.Is(err, ledger.ErrNoCheckpoint) {
		rep, err = nil, nil // nothing signed yet: the next step checks every entry
	}
	if err == nil {
		var tail *ledger.VerifyReport
		if tail, err = s.ledger.VerifyRecent(ctx, 0); err != nil {
			rep = tail
		}
	}
	switch {
	case errors.Is(err, ledger.ErrVerificationFailed):
		s.ledgerFailed(ctx, "in the periodic verification", rep)
	case err != nil:
		if ctx.Err() == nil {
			s.logger.Warn("ledger: verification could not run; retrying at the next interval", "error", err)
		}
	default:
		var cp *ledger.Checkpoint
		if rep != nil {
			cp = rep.Checkpoint
		}
		s.health.passed(cp, s.clock())
		s.logger.Debug("ledger: verified", "checkpoint_size", s.health.verifiedTreeSize(), "took", time.Since(start))
	}
}

// ledgerFailed reports a ledger that did not verify: not ready, counted,
// and logged with the first bad entry.
func (s *Server) ledgerFailed(ctx context.Context, when string, rep *ledger.VerifyReport) {
	s.metrics.ledgerVerifyFailures.Inc()
	problem := rep.Problem
	if rep.FirstBad >= 0 {
		problem = fmt.Sprintf("first bad entry %d: %s", rep.FirstBad, rep.Problem)
	}
	s.health.fail(problem)
	s.logger.LogAttrs(ctx, slog.LevelError, "ledger: the audit log does not verify "+when+"; the server reports not ready until restarted",
		slog.Int64("first_bad_entry", rep.FirstBad), slog.String("problem", rep.Problem),
		slog.String("next", "kith audit verify --log to inspect it; restore the store from a backup that verifies"))
}
