package federation

import (
	"context"
	"errors"
	"sync"
	"time"
)

// resyncInterval is how often Run reloads relationships from the store.
const resyncInterval = time.Minute

// Run keeps the foreign bundles fresh until ctx is done, then waits for
// the refreshes it started and returns nil. It sleeps until the earliest
// NextRefresh of all relationships and refreshes every entry that is due,
// each in its own goroutine; Add, Remove and finished refreshes wake it to
// re-arm its timer. Failures are recorded by the refresh itself (see
// [Manager.Refresh]) and do not stop Run. Every minute it also calls
// [Manager.Reload] to pick up what other replicas changed.
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
	resync := time.NewTicker(resyncInterval)
	defer resync.Stop()

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
		case <-resync.C:
			if err := m.Reload(ctx); err != nil && ctx.Err() == nil {
				m.logger.Warn("federation: reload from store failed", "error", err)
			}
		}
	}
}

// startDue starts a refresh, tracked by wg, of every entry that is due and
// not already being refreshed by Run. It returns the earliest NextRefresh
// of the entries left waiting, and false if there are none.
func (m *Manager) startDue(ctx context.Context, wg *sync.WaitGroup) (time.Time, bool) {
	now := m.clock()
	due := map[*entry]string{} // entry -> trust domain, for logs
	var next time.Time
	m.mu.Lock()
	for td, e := range m.entries {
		switch {
		case e.inflight:
		case !now.Before(e.nextRefresh):
			e.inflight = true
			due[e] = td.String()
		case next.IsZero() || e.nextRefresh.Before(next):
			next = e.nextRefresh
		}
	}
	m.mu.Unlock()

	for e, td := range due {
		wg.Go(func() {
			defer m.poke()
			defer m.clearInflight(e)
			// Failures are logged and audited by refresh itself.
			if _, err := m.refresh(ctx, e, true); err != nil && !errors.Is(err, context.Canceled) {
				m.logger.Debug("federation: scheduled refresh failed", "trust_domain", td, "error", err)
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
