package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/agentproto"
)

func TestAgentSyncStream(t *testing.T) {
	ts := startServer(t, "example.org")
	a, b := ts.attestAgent(t), ts.attestAgent(t)
	forA := ts.createEntryAPI(t, "for-a", a.SPIFFEID)
	ts.createEntryAPI(t, "for-b", b.SPIFFEID)
	forAll := ts.createEntryAPI(t, "for-all", "any")
	ts.waitHub(t)

	s := a.openSync(t, ts, 0, 0)
	first := s.next(t)
	if !first.Full || len(first.Bundle) == 0 || first.Revocations == "" {
		t.Errorf("first message: full=%v bundle=%d bytes revocations=%q", first.Full, len(first.Bundle), first.Revocations)
	}
	got := entryIDs(first.Entries)
	slices.Sort(got)
	want := []string{forA.ID, forAll.ID}
	slices.Sort(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("full state (-want +got):\n%s", d)
	}

	// A change made through the admin API arrives at once.
	start := time.Now()
	added := ts.createEntryAPI(t, "added", a.SPIFFEID)
	m := s.next(t)
	if d := time.Since(start); d > time.Second {
		t.Errorf("the change took %v to arrive", d)
	}
	if cmp.Diff([]string{added.ID}, entryIDs(m.Entries)) != "" || m.Revision != added.Revision {
		t.Errorf("change message: entries %v at %d, want %s at %d", entryIDs(m.Entries), m.Revision, added.ID, added.Revision)
	}
	s.close()

	// While a is away: one of its entries changes, one goes, b's changes.
	resumeAt := m.Revision
	forA.Description = "changed"
	var changed api.Entry
	if code := ts.do(t, "PUT", "/v1/entries/"+forA.ID, ts.token, forA, &changed); code != http.StatusOK {
		t.Fatalf("update: %d", code)
	}
	if code := ts.do(t, "DELETE", "/v1/entries/"+added.ID, ts.token, nil, nil); code != http.StatusNoContent && code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	ts.createEntryAPI(t, "more-for-b", b.SPIFFEID)
	ts.waitHub(t)

	r := a.openSync(t, ts, resumeAt, 0).next(t)
	gotDelta := struct {
		Full             bool
		Entries, Deleted []string
		Description      string
	}{r.Full, entryIDs(r.Entries), r.Deleted, ""}
	wantDelta := struct {
		Full             bool
		Entries, Deleted []string
		Description      string
	}{false, []string{forA.ID}, []string{added.ID}, ""}
	if d := cmp.Diff(wantDelta, gotDelta); d != "" {
		t.Errorf("resume (-want +got):\n%s", d)
	}
	if len(r.Entries) == 1 && r.Entries[0].Revision != changed.Revision {
		t.Errorf("resumed entry at revision %d, want %d", r.Entries[0].Revision, changed.Revision)
	}
}

func TestAgentSyncMovedEntry(t *testing.T) {
	ts := startServer(t, "example.org")
	a, b := ts.attestAgent(t), ts.attestAgent(t)
	e := ts.createEntryAPI(t, "mover", a.SPIFFEID)
	ts.waitHub(t)
	sa, sb := a.openSync(t, ts, 0, 0), b.openSync(t, ts, 0, 0)
	if m := sa.next(t); cmp.Diff([]string{e.ID}, entryIDs(m.Entries)) != "" {
		t.Fatalf("a starts with %v", entryIDs(m.Entries))
	}
	sb.next(t)

	e.ParentID = b.SPIFFEID
	if code := ts.do(t, "PUT", "/v1/entries/"+e.ID, ts.token, e, nil); code != http.StatusOK {
		t.Fatalf("move: %d", code)
	}
	ma, mb := sa.next(t), sb.next(t)
	if len(ma.Entries) != 0 || cmp.Diff([]string{e.ID}, ma.Deleted) != "" {
		t.Errorf("old parent: entries %v deleted %v, want %s deleted", entryIDs(ma.Entries), ma.Deleted, e.ID)
	}
	if len(mb.Deleted) != 0 || cmp.Diff([]string{e.ID}, entryIDs(mb.Entries)) != "" {
		t.Errorf("new parent: entries %v deleted %v, want %s added", entryIDs(mb.Entries), mb.Deleted, e.ID)
	}
}

func TestAgentSyncRevocationsAndEviction(t *testing.T) {
	ts := startServer(t, "example.org")
	a, b := ts.attestAgent(t), ts.attestAgent(t)
	e := ts.createEntryAPI(t, "web", "any")
	item := func() agentproto.X509SVIDRequest {
		_, csr := newCSRKey(t)
		return agentproto.X509SVIDRequest{Requests: []agentproto.X509SVIDRequestItem{{EntryID: e.ID, CSR: csr}}}
	}
	var issued agentproto.X509SVIDResponse
	if code, raw := b.do(t, ts, "POST", "/agent/v1/svids/x509", item(), &issued); code != http.StatusOK || len(issued.SVIDs) != 1 {
		t.Fatalf("svids for b: %d %s", code, raw)
	}
	ts.waitHub(t)
	sa, sb := a.openSync(t, ts, 0, 0), b.openSync(t, ts, 0, 0)
	first := sa.next(t)
	sb.next(t)
	jwtBundle := jwtbundle.FromJWTAuthorities(ts.TrustDomain(), ts.CA().Bundle().JWTAuthorities())
	if batch, err := agentproto.VerifyRevocations(first.Revocations, jwtBundle); err != nil || !batch.Full {
		t.Fatalf("first batch: %+v, %v", batch, err)
	}

	// kith entry revoke: every agent holds the signed entry within a second.
	start := time.Now()
	if code := ts.do(t, "POST", "/v1/entries/"+e.ID+"/revoke", ts.token, nil, nil); code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	for name, s := range map[string]*syncStream{"a": sa, "b": sb} {
		m := s.next(t)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: the revocation took %v", name, d)
		}
		batch, err := agentproto.VerifyRevocations(m.Revocations, jwtBundle)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(batch.Entries) != 1 || batch.Entries[0].Kind != "spiffe_id" || batch.Entries[0].Value != "spiffe://example.org/web" || batch.Full {
			t.Errorf("%s: batch %+v", name, batch)
		}
	}

	// kith agent evict b: b's stream ends with Evicted; a learns of b's
	// identity and of the SVID issued through b.
	var ev api.AgentEviction
	if code := ts.do(t, "POST", "/v1/agents/"+b.ID+"/evict", ts.token, nil, &ev); code != http.StatusOK || ev.RevokedSVIDs != 1 {
		t.Fatalf("evict: %d %+v", code, ev)
	}
	for {
		m := sb.next(t)
		if m.Evicted {
			break
		}
	}
	m := sa.next(t)
	batch, err := agentproto.VerifyRevocations(m.Revocations, jwtBundle)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range batch.Entries {
		kinds = append(kinds, r.Kind+"="+r.Value)
	}
	want := []string{"spiffe_id=" + b.SPIFFEID, "x509_serial=" + serialOf(t, issued.SVIDs[0].Chain[0])}
	slices.Sort(kinds)
	slices.Sort(want)
	if d := cmp.Diff(want, kinds); d != "" {
		t.Errorf("eviction batch (-want +got):\n%s", d)
	}
	if _, code := b.trySync(t, ts, 0, 0); code != http.StatusForbidden {
		t.Errorf("evicted agent reconnecting: %d, want 403", code)
	}
}

func TestAgentSyncEndsOnShutdown(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := New(ctx, Config{TrustDomain: "example.org", ListenAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, dir: dir, token: strings.TrimSpace(string(tok))}
	ts.client = ts.clientWithCert(t, nil, nil)
	a := ts.attestAgent(t)
	s := a.openSync(t, ts, 0, 0)
	s.next(t)

	// The open stream ends with the server instead of holding its
	// graceful shutdown for ShutdownTimeout.
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with a stream open", d)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived the server")
	}
}
