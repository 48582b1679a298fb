package trusthost

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/trust"
)

// TestCallOf maps a call record to its ledger event and back: the engine
// reads from the ledger what trust.FromRecord reads from the record.
func TestCallOf(t *testing.T) {
	at := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	const node = "spiffe://example.org/kith/agent/n1"
	base := callrecord.Record{Time: at, Direction: "inbound", Caller: "spiffe://example.org/a", CredentialID: "7f",
		CredentialType: "x509_svid", Target: "spiffe://example.org/b", Method: "GET", Route: "/v1/items/{id}", Path: "/v1/items/9",
		Status: 403, BytesIn: 10, BytesOut: 20, LatencyMicros: 1500, Decision: "deny", Source: "10.1.2.3"}
	for name, edit := range map[string]func(r *callrecord.Record){
		"with a route":          func(*callrecord.Record) {},
		"without a route":       func(r *callrecord.Record) { r.Route = "" },
		"route equals the path": func(r *callrecord.Record) { r.Route = r.Path },
		"client, no source":     func(r *callrecord.Record) { r.Caller, r.ClientID, r.Source = "", "c1", "" },
	} {
		t.Run(name, func(t *testing.T) {
			rec := base
			edit(&rec)
			rec = rec.FromAgent(node)
			ev := rec.Event(node, "req")
			want := trust.FromRecord(&rec, netip.Addr{}, node)
			if rec.Source != "" {
				want.Source = netip.MustParseAddr(rec.Source)
			}
			if want.Route == want.Path || want.Route == "" {
				want.Route = "" // the event cannot tell: the engine derives the template from the path
			}
			if diff := cmp.Diff(want, callOf(&ev), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("callOf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContextEventRoundTrip(t *testing.T) {
	in := trust.ContextInput{ID: "cve-1", Identity: "spiffe://example.org/a", Kind: "vulnerability", Reason: "CVE-2026-1 in image a:1",
		Weight: 250, Expires: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Source: "scanner"}
	ev := ContextAddedEvent(audit.Actor{Kind: "admin", ID: "alice"}, in)
	if diff := cmp.Diff(in, contextOf(&ev)); diff != "" {
		t.Errorf("contextOf (-want +got):\n%s", diff)
	}
	in.Source = ""
	ev = ContextAddedEvent(audit.Actor{Kind: "admin", ID: "alice"}, in)
	if got := contextOf(&ev).Source; got != "alice" {
		t.Errorf("source without one = %q, want the admin", got)
	}
}

func TestParseSnapshot(t *testing.T) {
	h := newTestHost(t)
	h.applied.Store(41)
	var buf bytes.Buffer
	st := &fakeStore{}
	h.cfg.Store = st
	if err := h.snapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	buf.Write(st.blobs[SnapshotBlob])
	cursor, r, err := parseSnapshot(buf.Bytes())
	if err != nil || cursor != 41 {
		t.Fatalf("parseSnapshot = %d, %v", cursor, err)
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "kith-trust-snapshot 2\n1\n", snapshotMagic + "x\n", snapshotMagic + "-2\n", snapshotMagic + "3\nnot gzip"} {
		if _, _, err := parseSnapshot([]byte(bad)); err == nil {
			t.Errorf("parseSnapshot(%q) accepted", bad)
		}
	}
}

// TestTrustChanges follows the log the sync hub reads: changes after a
// revision, each identity once with its latest state, and the whole
// table once the log was trimmed past the reader.
func TestTrustChanges(t *testing.T) {
	h := newTestHost(t)
	s := sink{h}
	change := func(id string, score int) {
		s.Change(trust.Change{Identity: id, From: trust.Starting("x509_svid"), To: trust.Starting("x509_svid")})
		h.mu.Lock()
		h.log[len(h.log)-1].entry.Score = score
		h.mu.Unlock()
	}
	change("a", 900)
	change("b", 600)
	change("a", 400)
	got, rev, ok := h.TrustChanges(1)
	want := []agentproto.TrustEntry{{ID: "b", Score: 600}, {ID: "a", Score: 400}}
	if !ok || rev != 3 {
		t.Fatalf("TrustChanges(1) = rev %d, ok %v", rev, ok)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TrustChanges(1) (-want +got):\n%s", diff)
	}
	for i := range maxLog + 10 {
		change("x", i)
	}
	h.mu.Lock()
	h.trimLog(0)
	h.mu.Unlock()
	if _, _, ok := h.TrustChanges(1); ok {
		t.Errorf("TrustChanges behind the trimmed log: ok")
	}
	if _, _, ok := h.TrustChanges(rev + 100); ok {
		t.Errorf("TrustChanges ahead of the revision: ok")
	}
}

func newTestHost(t *testing.T) *Host {
	t.Helper()
	h, err := New(Config{Store: &fakeStore{}, Ledger: nopLedger{}, Start: func(ctxContext) (int64, error) { return -1, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}
