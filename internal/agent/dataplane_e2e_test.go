package agent_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agent"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/dataplane"
)

// TestDataPlaneFeedEndToEnd follows a real agent's data-plane feed with a
// View: it gets the own bundle and the token service's keys, sees an
// entry revoked on the server within a second, keeps answering while the
// agent restarts, and resumes after.
func TestDataPlaneFeedEndToEnd(t *testing.T) {
	e := newEnv(t)
	ent := e.createEntry("/orders")
	jt, err := e.admin.CreateJoinToken(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "kith")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := agent.Config{ServerURL: "https://" + e.addr, JoinToken: agent.NewJoinToken(jt.Token),
		SocketPath: filepath.Join(dir, "public", "api.sock"), DataDir: filepath.Join(dir, "data"),
		TrustBundle: e.srv.CA().X509Authorities(), Clock: e.clock.Now, Logger: logger(t)}
	start := func() func() {
		a, err := agent.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		waitReady(t, a, done)
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent Run: %v", err)
			}
		}
	}
	stopAgent := start()

	sock := filepath.Join(dir, "data", "private", "dataplane.sock")
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o660 {
		t.Errorf("socket mode %v, want 0660", got)
	}
	ends := &feedEnds{next: logger(t).Handler()}
	v, err := dataplane.New(dataplane.Config{SocketPath: sock, Logger: slog.New(ends)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	viewDone := make(chan error, 1)
	go func() { viewDone <- v.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-viewDone; err != nil {
			t.Errorf("View.Run: %v", err)
		}
	})
	select {
	case <-v.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("View not ready")
	}
	td := spiffeid.RequireTrustDomainFromString("example.org")
	if v.TrustDomain() != td {
		t.Errorf("TrustDomain = %v", v.TrustDomain())
	}
	b, err := v.GetX509BundleForTrustDomain(td)
	if err != nil || len(b.X509Authorities()) == 0 {
		t.Fatalf("own bundle: %v, %v", b, err)
	}
	waitFor(t, "token keys", v.Changed, func() bool { ks := v.TokenKeys(); return ks != nil && len(ks.Keys) > 0 })
	if kid := v.TokenKeys().Keys[0].KeyID; kid == "" {
		t.Error("token key without kid")
	} else if _, err := v.Key(t.Context(), kid); err != nil {
		t.Errorf("Key(%q): %v", kid, err)
	}
	if v.Issuer() == "" {
		t.Error("no issuer")
	}

	issued := e.clock.Now().Add(-time.Minute)
	if v.IsRevoked("spiffe_id", ent.SPIFFEID, issued) {
		t.Fatal("revoked before the revocation")
	}
	began := time.Now()
	if _, err := e.admin.RevokeEntry(t.Context(), ent.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revocation in the View", v.Changed, func() bool { return v.IsRevoked("spiffe_id", ent.SPIFFEID, issued) })
	if d := time.Since(began); d > time.Second {
		t.Fatalf("revocation reached the View in %v, want within 1s", d)
	}
	t.Logf("revocation reached the View in %v", time.Since(began))

	// The agent goes away: once the View has seen its feed end, it keeps
	// answering from memory.
	before := v.Version()
	endedBefore := ends.String()
	stopAgent()
	waitFor(t, "the View to notice the agent going away", ends.Wrote, func() bool { return ends.String() != endedBefore })
	if !v.IsRevoked("spiffe_id", ent.SPIFFEID, issued) {
		t.Error("the View forgot a revocation while the agent was away")
	}
	if _, err := v.GetJWTBundleForTrustDomain(td); err != nil {
		t.Errorf("JWT bundle while the agent is away: %v", err)
	}
	// It comes back (from its data folder): the View resumes with a fresh
	// full state, still holding the revocation.
	stopAgent = start()
	defer stopAgent()
	waitFor(t, "the View to resume", v.Changed, func() bool { return v.Version() > before })
	if !v.IsRevoked("spiffe_id", ent.SPIFFEID, issued) {
		t.Error("revocation lost after the agent restarted")
	}
}

// feedEnds is the View's log handler: it passes records on to next and
// writes a line to its Buffer at each of the View's records that its feed
// ended (the agent went away).
type feedEnds struct {
	next slog.Handler
	await.Buffer
}

func (f *feedEnds) Enabled(context.Context, slog.Level) bool { return true }

func (f *feedEnds) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "dataplane: feed ended") {
		f.Write([]byte("ended\n"))
	}
	if !f.next.Enabled(ctx, r.Level) {
		return nil
	}
	return f.next.Handle(ctx, r)
}

func (f *feedEnds) WithAttrs([]slog.Attr) slog.Handler { return f }
func (f *feedEnds) WithGroup(string) slog.Handler      { return f }
