package agent_test

import (
	"context"
	"crypto"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/agent"
)

// TestEndToEndRestartWithoutServer restarts an agent while the server is
// away: the restarted agent has nothing to mint with, and must serve the
// workload SVID it held before (the same certificate and key) from its
// data folder, with the trust bundle.
func TestEndToEndRestartWithoutServer(t *testing.T) {
	e := newEnv(t)
	jt, err := e.admin.CreateJoinToken(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "kith")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "public", "api.sock")
	cfg := agent.Config{ServerURL: "https://" + e.addr, JoinToken: agent.NewJoinToken(jt.Token), SocketPath: sock,
		DataDir: filepath.Join(dir, "data"), TrustBundle: e.srv.CA().X509Authorities(), Clock: e.clock.Now, Logger: logger(t)}
	run := func(cfg agent.Config) (*agent.Agent, func()) {
		t.Helper()
		a, err := agent.New(cfg)
		if err != nil {
			t.Fatalf("agent.New: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		stop := once(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("agent Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("agent did not stop")
			}
		})
		t.Cleanup(stop)
		waitReady(t, a, done)
		return a, stop
	}

	_, stop := run(cfg)
	ent := e.createEntry("/web")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	opt := workloadapi.WithAddr("unix://" + sock)
	before, err := workloadapi.FetchX509SVID(ctx, opt)
	if err != nil {
		t.Fatalf("FetchX509SVID: %v", err)
	}
	if before.ID.String() != ent.SPIFFEID {
		t.Fatalf("SVID of %s, want %s", before.ID, ent.SPIFFEID)
	}
	stop()
	e.stopSrv()

	cfg.JoinToken = agent.JoinToken{}
	a, _ := run(cfg)
	if a.Status().Connected {
		t.Fatal("the restarted agent reached a stopped server")
	}
	after, err := workloadapi.FetchX509SVID(ctx, opt)
	if err != nil {
		t.Fatalf("FetchX509SVID from the restarted agent, server away: %v", err)
	}
	if !after.Certificates[0].Equal(before.Certificates[0]) {
		t.Errorf("the restarted agent served another certificate (serial %x, want %x)",
			after.Certificates[0].SerialNumber, before.Certificates[0].SerialNumber)
	}
	type publicKeyer interface{ Equal(crypto.PublicKey) bool }
	if !after.PrivateKey.Public().(publicKeyer).Equal(before.PrivateKey.Public()) {
		t.Error("the restarted agent served another private key")
	}
	bundles, err := workloadapi.FetchX509Bundles(ctx, opt)
	if err != nil {
		t.Fatalf("FetchX509Bundles from the restarted agent, server away: %v", err)
	}
	if _, err := bundles.GetX509BundleForTrustDomain(before.ID.TrustDomain()); err != nil {
		t.Errorf("no bundle for the own trust domain: %v", err)
	}
}

// once returns f made safe to call more than once: only the first call
// runs it.
func once(f func()) func() {
	done := false
	return func() {
		if !done {
			done = true
			f()
		}
	}
}
