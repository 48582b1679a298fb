package federation

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Run keeps the foreign bundles fresh until ctx is done, then waits for
// the refreshes it started and returns nil. It sleeps until the earliest
// NextRefresh of all relationships and refreshes every entry that is due,
// each in its own goroutine; Add, Remove and finished refreshes wake it to
// re-arm its timer. Failures are recorded by the refresh itself (see
// [Manager.Refresh]) and do not stop Run.
//
// Errors: [ErrRunning] if Run is already running on this Manager.
func (m *Manager) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer m.running.Store(false)

	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	for {
		next, ok := m.startDue(ctx, &wg)
		var fire <-chan time.Time
		if ok {
			timer.Reset(max(next.Sub(m.clock()), 0))
			fire = timer.C
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		case <-fire:
		}
	}
}

// startDue starts a refresh, tracked by wg, of every entry that is due and
// not already being refreshed by Run. It returns the earliest NextRefresh
// of the entries left waiting, and false if there are none.
func (m *Manager) startDue(ctx context.Context, wg *sync.WaitGroup) (time.Time, bool) {
	now := m.clock()
	var due []*entry
	var next time.Time
	m.mu.Lock()
	for _, e := range m.entries {
		switch {
		case e.inflight:
		case !now.Before(e.nextRefresh):
			e.inflight = true
			due = append(due, e)
		case next.IsZero() || e.nextRefresh.Before(next):
			next = e.nextRefresh
		}
	}
	m.mu.Unlock()

	for _, e := range due {
		wg.Go(func() {
			defer m.poke()
			defer m.clearInflight(e)
			if _, err := m.refresh(ctx, e, true); err != nil && !errors.Is(err, context.Canceled) {
				m.logger.Debug("federation: scheduled refresh failed",
					"trust_domain", e.rel.TrustDomain.String(), "error", err)
			}
		})
	}
	return next, !next.IsZero()
}

func (m *Manager) clearInflight(e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.inflight = false
}
