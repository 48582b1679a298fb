package agent_test

import (
	"context"
	"errors"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kith-dev/kith/internal/agent"
)

// TestEndToEndJoinTokenReuse refuses a second agent presenting a used
// join token.
func TestEndToEndJoinTokenReuse(t *testing.T) {
	e := newEnv(t)
	jt, err := e.admin.CreateJoinToken(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, _, done, _ := e.startAgent(jt.Token)
	waitReady(t, a, done)
	_, _, done2, _ := e.startAgent(jt.Token)
	select {
	case err := <-done2:
		if !errors.Is(err, agent.ErrAttestationRefused) || !strings.Contains(err.Error(), "already used") {
			t.Errorf("second agent: %v, want ErrAttestationRefused naming the reuse", err)
		}
		done2 <- err
	case <-time.After(30 * time.Second):
		t.Fatal("the second agent did not give up")
	}
}

// TestEndToEndEvict evicts a running agent: it stops with ErrEvicted and
// its workloads lose their identity.
func TestEndToEndEvict(t *testing.T) {
	e := newEnv(t)
	a, addr, done, _ := e.startAgent("")
	waitReady(t, a, done)
	e.createEntry("/web")
	waitEntries(t, a, 1)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := workloadapi.FetchX509SVID(ctx, workloadapi.WithAddr(addr)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.EvictAgent(ctx, path.Base(a.SPIFFEID().Path())); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, agent.ErrEvicted) {
			t.Errorf("Run = %v, want ErrEvicted", err)
		}
		done <- err
	case <-ctx.Done():
		t.Fatal("the evicted agent kept running")
	}
	if st := a.Status(); st.SVIDs != 0 || st.SPIFFEID != "" || st.Entries != 0 {
		t.Errorf("status after eviction = %+v, want nothing held", st)
	}
	fctx, fcancel := context.WithTimeout(ctx, 2*time.Second)
	defer fcancel()
	if _, err := workloadapi.FetchX509SVID(fctx, workloadapi.WithAddr(addr)); err == nil {
		t.Error("a workload still gets an SVID from the evicted agent")
	}
}

// TestEndToEndServerRestart stops the server under a running agent: the
// workload keeps getting its SVID from the agent's cache, and when the
// server is back the agent reconnects and receives new changes.
func TestEndToEndServerRestart(t *testing.T) {
	e := newEnv(t)
	a, addr, done, _ := e.startAgent("")
	waitReady(t, a, done)
	e.createEntry("/web")
	waitEntries(t, a, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	opt := workloadapi.WithAddr(addr)
	before, err := workloadapi.FetchX509SVID(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	rev := a.Status().Revision

	e.stopSrv()
	waitFor(t, "the agent to notice", a.ChangedForTest, func() bool { return !a.Status().Connected })
	during, err := workloadapi.FetchX509SVID(ctx, opt)
	if err != nil {
		t.Fatalf("FetchX509SVID with the server down: %v", err)
	}
	if !during.Certificates[0].Equal(before.Certificates[0]) {
		t.Error("the agent served another SVID with the server down; want the cached one")
	}
	if _, err := workloadapi.FetchJWTBundles(ctx, opt); err != nil {
		t.Errorf("FetchJWTBundles with the server down: %v", err)
	}

	e.startServer()
	waitFor(t, "reconnection", a.ChangedForTest, func() bool { return a.Status().Connected })
	if got := a.Status().Revision; got < rev {
		t.Errorf("revision after reconnecting = %d, want at least %d", got, rev)
	}
	e.createEntry("/api")
	// A fetch itself signals a change (its stream watches SVIDs): wait for
	// the entry, then fetch once.
	waitEntries(t, a, 2)
	if svids, err := workloadapi.FetchX509SVIDs(ctx, opt); err != nil || len(svids) != 2 {
		t.Fatalf("FetchX509SVIDs after the new entry = %d SVIDs, %v; want 2", len(svids), err)
	}
}

// TestEndToEndNoIdentity gives a process no entry matches nothing.
func TestEndToEndNoIdentity(t *testing.T) {
	e := newEnv(t)
	a, addr, done, _ := e.startAgent("")
	waitReady(t, a, done)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := workloadapi.New(ctx, workloadapi.WithAddr(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.FetchX509Context(ctx); status.Code(err) != codes.PermissionDenied {
		t.Errorf("FetchX509Context = %v, want PermissionDenied", err)
	}
}
