package agent

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/await"
)

// TestReusedJoinToken refuses a second agent that presents a used token.
func TestReusedJoinToken(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	cfg := newTestConfig(t, fs, clock)
	startAgent(t, cfg)

	again := newTestConfig(t, fs, clock)
	again.JoinToken = cfg.JoinToken
	a, err := New(again)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = a.Run(ctx)
	if !errors.Is(err, ErrAttestationRefused) {
		t.Fatalf("Run with a used token = %v, want ErrAttestationRefused", err)
	}
	if _, err := os.Stat(filepath.Join(again.DataDir, keyFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused agent left a key behind: %v", err)
	}
}

// TestNewRefusals covers the configurations New refuses.
func TestNewRefusals(t *testing.T) {
	dir := shortTempDir(t)
	base := Config{ServerURL: "https://127.0.0.1:1", SocketPath: filepath.Join(dir, "s.sock"), DataDir: filepath.Join(dir, "d"),
		JoinToken: NewJoinToken("t"), InsecureBootstrap: true}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   error
	}{
		{"no join token", func(c *Config) { c.JoinToken = JoinToken{} }, ErrNoIdentity},
		{"no trust bundle", func(c *Config) { c.InsecureBootstrap = false }, ErrNoTrustBundle},
		{"http server", func(c *Config) { c.ServerURL = "http://127.0.0.1:1" }, nil},
		{"no socket", func(c *Config) { c.SocketPath = "" }, nil},
		{"missing bundle file", func(c *Config) { c.TrustBundleFile = filepath.Join(dir, "none.pem") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.mutate(&cfg)
			_, err := New(cfg)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("New = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestEvicted shows an evicted agent stopping with ErrEvicted after
// dropping its identity, its cache and its workloads' SVIDs.
func TestEvicted(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	cfg := newTestConfig(t, fs, clock)
	r := startAgent(t, cfg)
	e := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/web", Selectors: []string{ownUIDSelector()}})
	r.awaitEntry(t, e.ID)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := workloadapi.FetchX509SVID(ctx, clientOptions(r)); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.svids.stats(); n != 1 {
		t.Fatalf("SVIDs held = %d, want 1", n)
	}

	fs.evict(r.SPIFFEID())
	select {
	case err := <-r.done:
		if !errors.Is(err, ErrEvicted) {
			t.Errorf("Run = %v, want ErrEvicted", err)
		}
	case <-ctx.Done():
		t.Fatal("the evicted agent kept running")
	}
	r.done <- nil // for cleanup
	if n, _ := r.svids.stats(); n != 0 {
		t.Errorf("SVIDs held after eviction = %d, want 0", n)
	}
	if !r.SPIFFEID().IsZero() {
		t.Errorf("identity after eviction = %v, want none", r.SPIFFEID())
	}
	for _, name := range []string{keyFileName, svidFileName, stateFileName} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after eviction: %v, want it deleted", name, err)
		}
	}
	if _, err := os.Stat(cfg.SocketPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after eviction: %v, want it removed", err)
	}
	cfg.JoinToken = JoinToken{}
	if _, err := New(cfg); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("New after eviction without a token = %v, want ErrNoIdentity", err)
	}
}

// TestServerRestart shows static stability: while the server is down the
// workload keeps getting its SVID and bundle from the agent's cache; when
// the server is back, the agent resumes from its revision without a full
// re-send and picks up what changed meanwhile.
func TestServerRestart(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	r := startAgent(t, newTestConfig(t, fs, clock))
	e := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/web", Selectors: []string{ownUIDSelector()}})
	r.awaitEntry(t, e.ID)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	first, err := workloadapi.FetchX509SVID(ctx, clientOptions(r))
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := r.state.cursors()

	fs.stop()
	eventually(t, "the agent to notice", r.changed.wait, func() bool { return !r.Status().Connected })
	during, err := workloadapi.FetchX509SVID(ctx, clientOptions(r))
	if err != nil {
		t.Fatalf("FetchX509SVID while the server is down: %v", err)
	}
	if !during.Certificates[0].Equal(first.Certificates[0]) {
		t.Error("while the server is down the agent served another SVID; want the cached one")
	}
	if _, err := workloadapi.FetchX509Bundles(ctx, clientOptions(r)); err != nil {
		t.Errorf("FetchX509Bundles while the server is down: %v", err)
	}
	if !r.Status().Ready {
		t.Error("/readyz would fail while serving from the cache")
	}

	e.Selectors = append(e.Selectors, "unix:gid:"+strconv.Itoa(os.Getgid()))
	fs.putEntry(e) // changed while the agent was away
	fs.restart()
	eventually(t, "reconnection", r.changed.wait, func() bool { return r.Status().Connected })
	eventually(t, "the change", r.changed.wait, func() bool { got, _ := r.state.entry(e.ID); return len(got.Selectors) == 2 })
	log := fs.syncLog()
	last := log[len(log)-1]
	want := syncRecord{agent: r.SPIFFEID(), revision: rev, revocations: last.revocations, full: false, entries: 1}
	if last != want {
		t.Errorf("resumed sync = %+v, want %+v", last, want)
	}
}

// TestResumeAfterAgentRestart restarts the agent on its data folder: it
// keeps its identity (no join token needed), serves from its persisted
// cache, and resumes the stream from the persisted revision.
func TestResumeAfterAgentRestart(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	cfg := newTestConfig(t, fs, clock)
	r := startAgent(t, cfg)
	for _, p := range []string{"/a", "/b", "/c"} {
		fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org" + p, Selectors: []string{"unix:uid:1"}})
	}
	fs.revoke("jti", "token-1")
	eventually(t, "three entries", r.changed.wait, func() bool { return r.Status().Entries == 3 && r.Status().Revocations == 1 })
	id := r.SPIFFEID()
	rev, revs := r.state.cursors()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	r.done <- nil

	cfg.JoinToken = JoinToken{} // used up
	fs.stop()                   // the cache alone must do
	r2 := startAgent(t, cfg)
	if r2.SPIFFEID() != id {
		t.Errorf("identity after restart = %v, want %v", r2.SPIFFEID(), id)
	}
	if st := r2.Status(); st.Entries != 3 || st.Revocations != 1 || st.Revision != rev || !st.Ready {
		t.Errorf("restored status = %+v, want 3 entries, 1 revocation, revision %d, ready", st, rev)
	}
	if !r2.IsRevoked("jti", "token-1", clock.Now().Add(-time.Minute)) {
		t.Error("the persisted revocation was lost")
	}
	fs.restart()
	eventually(t, "reconnection", r2.changed.wait, func() bool { return r2.Status().Connected })
	log := fs.syncLog()
	if got := log[len(log)-1]; got.revision != rev || got.revocations != revs || got.full || got.entries != 0 {
		t.Errorf("sync after restart = %+v, want resume from %d/%d with nothing re-sent", got, rev, revs)
	}
}

// TestDeadStream reconnects when the server falls silent for twice the
// heartbeat interval (2s in tests).
func TestDeadStream(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	fs.setSilent(true)
	startAgent(t, newTestConfig(t, fs, clock))
	eventually(t, "a reconnection after silence", fs.synced.wait, func() bool { return len(fs.syncLog()) >= 2 })
}

// TestInsecureBootstrap attests without a trust bundle when explicitly
// allowed, and says so loudly.
func TestInsecureBootstrap(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	cfg := newTestConfig(t, fs, clock)
	cfg.TrustBundle = nil
	cfg.InsecureBootstrap = true
	var logs await.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	r := startAgent(t, cfg)
	if r.SPIFFEID().IsZero() {
		t.Fatal("no identity")
	}
	if !strings.Contains(logs.String(), "INSECURE BOOTSTRAP") {
		t.Errorf("no warning in the logs:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), cfg.JoinToken.v) {
		t.Error("the join token appears in the logs")
	}
}

// TestFileModes checks the permissions of what the agent writes: its key
// and cache readable by it only, the socket open to every local process.
func TestFileModes(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	cfg := newTestConfig(t, fs, clock)
	startAgent(t, cfg)
	tests := []struct {
		path string
		want os.FileMode
	}{
		{cfg.DataDir, os.ModeDir | 0o700},
		{filepath.Join(cfg.DataDir, keyFileName), 0o600},
		{filepath.Join(cfg.DataDir, svidFileName), 0o600},
		{filepath.Join(cfg.DataDir, stateFileName), 0o600},
		{filepath.Join(cfg.DataDir, sealKeyFileName), 0o600},
		{filepath.Dir(cfg.SocketPath), os.ModeDir | 0o755},
		{cfg.SocketPath, os.ModeSocket | 0o777},
	}
	for _, tt := range tests {
		fi, err := os.Lstat(tt.path)
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if got := fi.Mode() &^ os.ModeType & 0o777; fi.Mode().Type()|got != tt.want {
			t.Errorf("%s: mode %v, want %v", filepath.Base(tt.path), fi.Mode(), tt.want)
		}
	}
}
