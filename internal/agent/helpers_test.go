package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/ca/catest"
)

// testClock is a settable clock. Tests start it well before the real time
// and mint long-lived certificates, so that what the CA signs at the fake
// time is also valid for verifiers that read the real clock (TLS, go-spiffe)
// while the test moves the fake clock forward by hours.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Now().Add(-23 * time.Hour).Truncate(time.Second)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// newTestCA returns a CA whose keys and SVIDs live 24 hours.
func newTestCA(tb testing.TB, td string, clock *testClock) *ca.CA {
	tb.Helper()
	return catest.New(tb, mustTD(tb, td), func(c *ca.Config) {
		c.Clock = clock.Now
		c.CATTL, c.X509SVIDTTL, c.JWTSVIDTTL = 24*time.Hour, 24*time.Hour, 24*time.Hour
	})
}

// shortTempDir returns a temporary folder with a short path, for Unix
// sockets (whose paths are limited to about 100 bytes).
func shortTempDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "kith")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// testLogger logs to the test at debug level when -v is given.
func testLogger(tb testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}

// runningAgent is an agent running in the background of a test.
type runningAgent struct {
	*Agent
	socket string
	cancel context.CancelFunc
	done   chan error
}

// addr is the Workload API address for go-spiffe.
func (r *runningAgent) addr() string { return "unix://" + r.socket }

// stop cancels the agent and returns Run's error.
func (r *runningAgent) stop(tb testing.TB) error {
	tb.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(20 * time.Second):
		tb.Fatal("agent did not stop")
		return nil
	}
}

// newTestConfig returns an agent Config for fs with a fresh join token.
func newTestConfig(tb testing.TB, fs *fakeServer, clock *testClock) Config {
	dir := shortTempDir(tb)
	return Config{
		ServerURL:   fs.URL(),
		JoinToken:   NewJoinToken(fs.newJoinToken()),
		SocketPath:  filepath.Join(dir, "public", "api.sock"),
		DataDir:     filepath.Join(dir, "data"),
		TrustBundle: fs.ca.X509Authorities(),
		Clock:       clock.Now,
		Logger:      testLogger(tb),
	}
}

// startAgent creates an agent with fast timings, runs it, and waits until
// it is ready. The agent is stopped at cleanup.
func startAgent(tb testing.TB, cfg Config) *runningAgent {
	tb.Helper()
	return startAgentWith(tb, cfg, nil)
}

// startAgentWith is startAgent, with prepare (if not nil) called on the
// agent between New and Run.
func startAgentWith(tb testing.TB, cfg Config, prepare func(*Agent)) *runningAgent {
	tb.Helper()
	a, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	if prepare != nil {
		prepare(a)
	}
	a.backoffBase, a.backoffMax = 20*time.Millisecond, 200*time.Millisecond
	a.heartbeatTimeout = 2 * time.Second
	a.tick = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{Agent: a, socket: cfg.SocketPath, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			tb.Error("agent did not stop")
		}
	})
	select {
	case <-a.Ready():
	case err := <-r.done:
		r.done <- err
		tb.Fatalf("agent stopped: %v", err)
	case <-time.After(10 * time.Second):
		tb.Fatal("agent not ready")
	}
	return r
}

// eventually waits until cond holds, checking it again each time the
// channel that changed returns is ready: the change signal of what cond
// reads, such as r.changed.wait for the agent's status, cache and SVIDs,
// or src.Updated for a workload's X509 source. It fails tb after 10s.
func eventually(tb testing.TB, what string, changed func() <-chan struct{}, cond func() bool) {
	tb.Helper()
	await.Until(tb, what, 10*time.Second, changed, cond)
}

// awaitEntry waits until the agent holds the entry with ID id, so that a
// workload it matches gets an identity at once.
func (r *runningAgent) awaitEntry(tb testing.TB, id string) {
	tb.Helper()
	eventually(tb, "entry "+id+" at the agent", r.changed.wait, func() bool { _, ok := r.state.entry(id); return ok })
}

// awaitRotationPass waits until the SVID rotation task has completed a
// whole pass begun after the call, so that it has seen the clock as it is
// now.
func (a *Agent) awaitRotationPass(tb testing.TB) {
	tb.Helper()
	for range 2 { // the first pass to end may have begun before the call
		select {
		case <-a.svids.passes.wait():
		case <-time.After(10 * time.Second):
			tb.Fatal("the SVID rotation task did not run")
		}
	}
}

// ownUIDSelector selects the test process.
func ownUIDSelector() string { return "unix:uid:" + strconv.Itoa(os.Getuid()) }

// clientOptions points go-spiffe at the agent.
func clientOptions(r *runningAgent) workloadapi.ClientOption {
	return workloadapi.WithAddr(r.addr())
}

func selfPID() int { return os.Getpid() }

// checkLeaks fails tb if goroutines started during the test outlive it.
// Call it first, so that its cleanup runs after every other.
func checkLeaks(tb testing.TB) {
	tb.Helper()
	await.NoLeaks(tb)
}
