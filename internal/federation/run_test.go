package federation

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// startRun runs m.Run until the test ends and checks that it returns nil.
func startRun(t *testing.T, m *Manager) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
			// Run waits for what it started: no refresh may outlive it.
			buf := make([]byte, 1<<20)
			if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "federation.(*Manager).refresh") {
				t.Errorf("a refresh goroutine outlived Run:\n%s", stacks)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return within 5s of cancellation")
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestRunRefreshesDueBundles(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t)
	st := f.mustAdd(t, fs)
	stop := startRun(t, f.m)

	// Waking Run before the bundle is due does not fetch it.
	f.m.poke()

	// A new bundle is picked up once due, and audited.
	fs.ep.setBody(marshal(t, newBundle(foreignTD, 2, fs.ca)))
	f.clock.Advance(st.NextRefresh.Sub(f.clock.Now()))
	f.m.poke()
	ev := f.audit.wait(t, "federation.bundle.refreshed")
	if ev.Details["sequence"] != "2" {
		t.Errorf("refreshed event sequence = %q, want 2", ev.Details["sequence"])
	}
	if got := f.status(t, foreignTD).Sequence; got != 2 {
		t.Errorf("held sequence = %d, want 2", got)
	}

	// A bundle served for another trust domain is refused.
	otherTD := spiffeid.RequireTrustDomainFromString("other.test")
	fs.ep.setBody(marshal(t, newBundle(otherTD, 3, newCA(t, otherTD, "other root"))))
	f.clock.Advance(defaultRefresh)
	f.m.poke()
	ev = f.audit.wait(t, "federation.refresh.failed")
	t.Logf("refused: %s", ev.Reason)

	// A failing endpoint backs off; the last good bundle stays.
	fs.ep.fail(http.StatusBadGateway)
	now := f.clock.Now().Add(time.Hour)
	f.clock.Advance(time.Hour)
	f.m.poke()
	f.audit.wait(t, "federation.refresh.failed")
	got := f.status(t, foreignTD)
	if got.LastError == "" || got.Sequence != 2 {
		t.Errorf("status after failure = %+v, want LastError set and sequence 2 kept", got)
	}
	if d := got.NextRefresh.Sub(now); d <= 0 || d > backoffBase<<1 {
		t.Errorf("second consecutive failure retries in %v, want within (0, %v]", d, backoffBase<<1)
	}

	if err := f.m.Run(t.Context()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run error = %v, want ErrRunning", err)
	}
	stop()
	// Add, then one fetch per due refresh: Run never fetched early.
	if hits := fs.ep.hitCount(); hits != 4 {
		t.Errorf("endpoint fetched %d times, want 4", hits)
	}
}

func TestRunTimerFires(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t)
	st := f.mustAdd(t, fs)
	fs.ep.setBody(marshal(t, newBundle(foreignTD, 2, fs.ca)))
	// From now on the clock runs in real time, 50ms short of the refresh:
	// only Run's timer can bring it about.
	f.clock.runFrom(st.NextRefresh.Add(-50 * time.Millisecond))
	startRun(t, f.m)
	f.audit.wait(t, "federation.bundle.refreshed")
}

func TestRunStopsWithRefreshInFlight(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t, func(c *Config) { c.HTTPTimeout = time.Minute })
	f.mustAdd(t, fs)

	// The endpoint hangs until the test ends; Run must still stop promptly,
	// waiting for the refresh it started, which its context cancels.
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	fs.ep.setHook(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	f.clock.Advance(time.Hour)
	stop := startRun(t, f.m)
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not fetch the due bundle")
	}
	stop()
	if got := f.status(t, foreignTD).LastError; got != "" {
		t.Errorf("shutdown was recorded as a refresh failure: %q", got)
	}
	for _, typ := range f.audit.types() {
		if typ == "federation.refresh.failed" {
			t.Error("shutdown was audited as a refresh failure")
		}
	}
}
