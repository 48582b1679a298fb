package agent

import (
	"context"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kith-dev/kith/internal/agentproto"
)

// TestSVIDsOnlyForWorkloads shows the agent minting only for entries a
// workload on the node matches, and dropping SVIDs no workload fetched for
// the idle timeout.
func TestSVIDsOnlyForWorkloads(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	r := startAgent(t, newTestConfig(t, fs, clock))
	for i := range 5 { // entries of other workloads
		fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/other/" + string(rune('a'+i)), Selectors: []string{"unix:uid:4000000000"}})
	}
	mine := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/mine", Selectors: []string{ownUIDSelector()}})
	eventually(t, "entries", r.changed.wait, func() bool { return r.Status().Entries == 6 })
	if n := fs.mintCount(); n != 0 {
		t.Fatalf("minted %d SVIDs before any workload asked", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := workloadapi.FetchX509SVID(ctx, clientOptions(r)); err != nil {
		t.Fatal(err)
	}
	if _, err := workloadapi.FetchX509SVID(ctx, clientOptions(r)); err != nil {
		t.Fatal(err)
	}
	if n, held := fs.mintCount(), r.Status().SVIDs; n != 1 || held != 1 {
		t.Fatalf("minted %d and holds %d SVIDs, want 1 and 1 (for %s only)", n, held, mine.SPIFFEID)
	}
	eventually(t, "the streams to end", r.changed.wait, func() bool { return r.svids.watching() == 0 })
	clock.Add(defaultIdleSVIDTimeout + time.Second)
	eventually(t, "the idle SVID dropped", r.changed.wait, func() bool { return r.Status().SVIDs == 0 })

	// A watching workload keeps its SVID however long it watches.
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(clientOptions(r)))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	clock.Add(defaultIdleSVIDTimeout + time.Second)
	r.awaitRotationPass(t) // a whole pass has seen the clock past the idle timeout
	if held := r.Status().SVIDs; held != 1 {
		t.Errorf("holds %d SVIDs while a workload watches, want 1", held)
	}
}

// watching returns the number of entries some stream watches.
func (c *svidCache) watching() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.watchers)
}

// held returns the X509-SVID the cache holds for an entry, or nil.
func (c *svidCache) held(entryID string) *x509svid.SVID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.records[entryID]; r != nil {
		return r.svid
	}
	return nil
}

// TestInactiveEntry stops serving an entry the server quarantines: the
// stream ends with PermissionDenied and the SVID is dropped.
func TestInactiveEntry(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	r := startAgent(t, newTestConfig(t, fs, clock))
	e := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/web", Selectors: []string{ownUIDSelector()}})
	r.awaitEntry(t, e.ID) // so that the only watch error is the quarantine's
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := workloadapi.New(ctx, clientOptions(r))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	updates := make(chan *workloadapi.X509Context, 4)
	errs := make(chan error, 4)
	watchDone := make(chan struct{})
	go func() { c.WatchX509Context(ctx, watcher{updates, errs}); close(watchDone) }()
	defer func() { cancel(); <-watchDone }()
	select {
	case <-updates:
	case <-ctx.Done():
		t.Fatal("no SVID")
	}
	e.Status = "quarantined"
	fs.putEntry(e)
	select {
	case err := <-errs:
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("watch error = %v, want PermissionDenied", err)
		}
	case <-ctx.Done():
		t.Fatal("the stream went on for a quarantined entry")
	}
	eventually(t, "the SVID dropped", r.changed.wait, func() bool { return r.Status().SVIDs == 0 })
}
