package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
)

func TestRecordEncoding(t *testing.T) {
	l, _, _ := testLedger(t)
	ev := audit.Event{
		Time: time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("X", 3600)),
		Type: "call.decided",
		Actor: audit.Actor{Kind: "workload", ID: "spiffe://example.org/billing", CredentialID: "jti-7",
			CredentialType: "jwt_svid", Owner: "team-billing", BusinessFunction: "invoicing", RemoteAddr: "10.0.0.7:4431"},
		Target:    "spiffe://example.org/ledger-api",
		Action:    "call",
		Outcome:   audit.OutcomeDenied,
		Policy:    &audit.Policy{Revision: 42, Rule: "deny-after-hours"},
		Trust:     &audit.Trust{Score: 37, Signals: []string{"anomaly.rate", "caep.credential-change"}},
		Reason:    "outside business hours <& >",
		RequestID: "req-1",
		TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		Details:   map[string]string{"path": "/v1/invoices", "method": "POST"},
	}
	mustRecord(t, l, testEvent(0))
	if i := mustRecord(t, l, ev); i != 1 {
		t.Fatalf("second Record returned index %d", i)
	}
	entries, err := l.Entries(t.Context(), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":1,"time":"2025-03-14T14:09:26.535897Z","type":"call.decided",` +
		`"actor":{"kind":"workload","id":"spiffe://example.org/billing","credential_id":"jti-7","credential_type":"jwt_svid",` +
		`"owner":"team-billing","business_function":"invoicing","remote_addr":"10.0.0.7:4431"},` +
		`"target":"spiffe://example.org/ledger-api","action":"call","outcome":"denied",` +
		`"policy":{"revision":42,"rule":"deny-after-hours"},` +
		`"trust":{"score":37,"signals":["anomaly.rate","caep.credential-change"]},` +
		`"reason":"outside business hours \u003c\u0026 \u003e","request_id":"req-1",` +
		`"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","details":{"method":"POST","path":"/v1/invoices"}}`
	if got := string(entries[0].Data); got != want {
		t.Errorf("entry:\n got %s\nwant %s", got, want)
	}
	if h := rfc6962.DefaultHasher.HashLeaf([]byte(want)); !cmp.Equal(entries[0].LeafHash, h) {
		t.Errorf("LeafHash %x, want %x", entries[0].LeafHash, h)
	}
	// Query decodes it back, with its index.
	got, err := l.Query(t.Context(), store.EventFilter{After: 0})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	if d := cmp.Diff([]ledger.IndexedEvent{{Index: 1, Event: ev}}, got); d != "" {
		t.Errorf("Query mismatch (-want +got):\n%s", d)
	}
}

func TestRecordErrors(t *testing.T) {
	l, _, _ := testLedger(t)
	big := testEvent(0)
	big.Details = map[string]string{"x": strings.Repeat("a", ledger.MaxEntrySize)}
	nearlyBig := testEvent(0)
	nearlyBig.Details = map[string]string{"x": strings.Repeat("a", ledger.MaxEntrySize-300)}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		ev      audit.Event
		wantErr error // nil: any error
		ok      bool
	}{
		{"no type", t.Context(), func() audit.Event { e := testEvent(0); e.Type = ""; return e }(), nil, false},
		{"no action", t.Context(), func() audit.Event { e := testEvent(0); e.Action = ""; return e }(), nil, false},
		{"no outcome", t.Context(), func() audit.Event { e := testEvent(0); e.Outcome = ""; return e }(), nil, false},
		{"too large, shortened", t.Context(), big, nil, true},
		{"cancelled", cancelled, testEvent(0), context.Canceled, false},
		{"just under the limit", t.Context(), nearlyBig, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Record(tc.ctx, tc.ev)
			if tc.ok {
				if err != nil {
					t.Fatalf("Record: %v", err)
				}
				return
			}
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("Record error = %v, want %v", err, tc.wantErr)
			}
		})
	}
	// Only the valid events were recorded.
	if evs, err := l.Query(t.Context(), store.EventFilter{After: -1}); err != nil || len(evs) != 2 {
		t.Errorf("Query = %d events, %v; want 2", len(evs), err)
	}
}

// TestRecordShortensLargeEvents: an event too large for an entry is
// recorded with its text cut and marked, its type, action and outcome
// intact; the entry fits the limit and verifies.
func TestRecordShortensLargeEvents(t *testing.T) {
	l, _, _ := testLedger(t)
	huge := strings.Repeat("<é\x00", 100_000) // escapes to several times its size
	details := map[string]string{}
	for i := range 20_000 {
		details[fmt.Sprint("key-", i)] = "value"
	}
	tests := map[string]func(e *audit.Event){
		"reason":        func(e *audit.Event) { e.Reason = huge },
		"target":        func(e *audit.Event) { e.Target = huge },
		"many details":  func(e *audit.Event) { e.Details = details },
		"detail values": func(e *audit.Event) { e.Details = map[string]string{"a": huge, "b": huge} },
		"signals":       func(e *audit.Event) { e.Trust = &audit.Trust{Score: 1, Signals: []string{huge, huge, huge}} },
		"actor":         func(e *audit.Event) { e.Actor.ID, e.Actor.Owner = huge, huge },
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			ev := testEvent(0)
			edit(&ev)
			i, err := l.Record(t.Context(), ev)
			if err != nil {
				t.Fatalf("Record: %v", err)
			}
			entries, err := l.Entries(t.Context(), uint64(i), uint64(i)+1)
			if err != nil || len(entries) != 1 {
				t.Fatalf("Entries: %v", err)
			}
			if n := len(entries[0].Data); n > ledger.MaxEntrySize {
				t.Errorf("entry of %d bytes, limit %d", n, ledger.MaxEntrySize)
			}
			evs, err := l.Query(t.Context(), store.EventFilter{After: i - 1, Limit: 1})
			if err != nil || len(evs) != 1 || evs[0].Index != i {
				t.Fatalf("Query: %v", err)
			}
			got := evs[0].Event
			if got.Type != ev.Type || got.Action != ev.Action || got.Outcome != ev.Outcome || got.Details[ledger.TruncatedDetail] == "" {
				t.Errorf("recorded %s/%s/%s with details %d, want the same type, action and outcome, marked shortened",
					got.Type, got.Action, got.Outcome, len(got.Details))
			}
		})
	}
}

// countingStore counts the commits of a store.
type countingStore struct {
	*store.Store
	commits atomic.Int64
	busy    atomic.Int64 // nanoseconds spent in ExtendLedger
}

func (s *countingStore) ExtendLedger(ctx context.Context, build func(store.LedgerState) (store.LedgerAppend, error)) error {
	s.commits.Add(1)
	start := time.Now()
	defer func() { s.busy.Add(int64(time.Since(start))) }()
	return s.Store.ExtendLedger(ctx, build)
}

func TestGroupCommit(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			s := &countingStore{Store: openStore(t, be.url(t))}
			l := newLedger(t, s, newSigner(t), nil)
			const workers, each = 64, 200
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				tags = map[int64]string{}
			)
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						ev := testEvent(w*each + i)
						index, err := l.Record(t.Context(), ev)
						if err != nil {
							t.Errorf("Record: %v", err)
							return
						}
						mu.Lock()
						if prev, dup := tags[index]; dup {
							t.Errorf("index %d given to %s and %s", index, prev, ev.Target)
						}
						tags[index] = ev.Target
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			const n = workers * each
			if len(tags) != n {
				t.Fatalf("%d distinct indexes, want %d", len(tags), n)
			}
			for i := range int64(n) {
				if _, ok := tags[i]; !ok {
					t.Fatalf("index %d was not returned: indexes are not contiguous", i)
				}
			}
			commits := s.commits.Load()
			t.Logf("%d records in %d commits", n, commits)
			if commits >= n/2 {
				t.Errorf("%d records took %d commits: not batched", n, commits)
			}
			// Every entry is there with its own content, and the root is
			// the one a reference tree computes from the entries.
			cp := mustPublish(t, l)
			if cp.Size != n {
				t.Fatalf("checkpoint size %d, want %d", cp.Size, n)
			}
			ref := testonly.New(rfc6962.DefaultHasher)
			for _, e := range allEntries(t, l, n) {
				idx, err := ledger.EntryIndex(e.Data)
				if err != nil || idx != e.Index {
					t.Fatalf("entry %d embeds index %d (%v)", e.Index, idx, err)
				}
				if !strings.Contains(string(e.Data), `"target":"`+tags[int64(e.Index)]+`"`) {
					t.Fatalf("entry %d is not the event recorded at that index (%s): %s", e.Index, tags[int64(e.Index)], e.Data)
				}
				ref.AppendData(e.Data)
			}
			if !cmp.Equal(ref.Hash(), cp.Root) {
				t.Errorf("root %x, reference %x", cp.Root, ref.Hash())
			}
		})
	}
}

// TestTwoWriters runs two ledgers on one database, as two replicas do:
// they never fork the tree, and the log verifies.
func TestTwoWriters(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			url := be.url(t)
			signer := newSigner(t)
			ls := []*ledger.Ledger{
				newLedger(t, openStore(t, url), signer, nil),
				newLedger(t, openStore(t, url), signer, nil),
			}
			const workers, each = 8, 50
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					l := ls[w%2]
					for i := range each {
						if _, err := l.Record(t.Context(), testEvent(w*each+i)); err != nil {
							t.Errorf("Record: %v", err)
							return
						}
						if i%10 == 0 {
							if _, err := l.PublishForTest(t.Context()); err != nil {
								t.Errorf("publish: %v", err)
							}
						}
					}
				})
			}
			wg.Wait()
			cp := mustPublish(t, ls[0])
			if cp.Size != workers*each {
				t.Errorf("checkpoint size %d, want %d", cp.Size, workers*each)
			}
			rep, err := ledger.VerifyLog(t.Context(), ls[1].Source(), ledger.VerifyOptions{Verifier: signer.Verifier()})
			if err != nil {
				t.Fatalf("VerifyLog: %v (%+v)", err, rep)
			}
		})
	}
}

func TestReopen(t *testing.T) {
	url := sqliteURL(t)
	signer := newSigner(t)
	s := openStore(t, url)
	l := newLedger(t, s, signer, nil)
	for i := range 20 {
		mustRecord(t, l, testEvent(i))
	}
	first := mustPublish(t, l)
	s.Close()

	l = newLedger(t, openStore(t, url), signer, nil)
	if i := mustRecord(t, l, testEvent(20)); i != 20 {
		t.Errorf("Record after reopen: index %d, want 20", i)
	}
	cp := mustPublish(t, l)
	p, err := l.ConsistencyProof(t.Context(), first.Size, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyConsistency(first, cp, p); err != nil {
		t.Errorf("checkpoints before and after reopening are not consistent: %v", err)
	}
}

// TestAdoptLegacyEvents opens a ledger on a store holding events written
// before the Merkle log: they become its first entries.
func TestAdoptLegacyEvents(t *testing.T) {
	s := openStore(t, sqliteURL(t))
	for i := range 3 {
		body, err := audit.Marshal(testEvent(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AppendEvent(t.Context(), &store.Event{Type: "entry.created", Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	signer := newSigner(t)
	l := newLedger(t, s, signer, nil)
	if i := mustRecord(t, l, testEvent(3)); i != 3 {
		t.Errorf("first Record: index %d, want 3", i)
	}
	// A stray AppendEvent while the ledger runs is adopted too.
	body, _ := audit.Marshal(testEvent(4))
	if err := s.AppendEvent(t.Context(), &store.Event{Type: "entry.created", Body: body}); err != nil {
		t.Fatal(err)
	}
	if i := mustRecord(t, l, testEvent(5)); i != 5 {
		t.Errorf("Record after a stray AppendEvent: index %d, want 5", i)
	}
	mustPublish(t, l)
	got, err := l.Query(t.Context(), store.EventFilter{After: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range got {
		if ev.Index != int64(i) || ev.Event.Target != testEvent(i).Target {
			t.Errorf("event %d: index %d target %q", i, ev.Index, ev.Event.Target)
		}
	}
	if rep, err := ledger.VerifyLog(t.Context(), l.Source(), ledger.VerifyOptions{Verifier: signer.Verifier()}); err != nil {
		t.Errorf("VerifyLog: %v (%+v)", err, rep)
	}
}

// TestRecordTx: an event recorded in a store transaction exists only if
// the transaction commits, and enters the tree (and a verifiable
// checkpoint) at Adopt, in its place among Record's events.
func TestRecordTx(t *testing.T) {
	l, s, signer := testLedger(t)
	mustRecord(t, l, testEvent(0))
	errRollback := errors.New("the change failed")
	err := s.Tx(t.Context(), func(tx *store.Tx) error {
		if err := l.RecordTx(t.Context(), tx, testEvent(99)); err != nil {
			t.Fatalf("RecordTx: %v", err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Tx = %v", err)
	}
	err = s.Tx(t.Context(), func(tx *store.Tx) error { return l.RecordTx(t.Context(), tx, testEvent(1)) })
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	bad := testEvent(2)
	bad.Outcome = ""
	if err := s.Tx(t.Context(), func(tx *store.Tx) error { return l.RecordTx(t.Context(), tx, bad) }); err == nil {
		t.Error("RecordTx accepted an event without an outcome")
	}
	if err := l.Adopt(t.Context()); err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	if i := mustRecord(t, l, testEvent(2)); i != 2 {
		t.Errorf("Record after the adopted event: index %d, want 2", i)
	}
	cp := mustPublish(t, l)
	if cp.Size != 3 {
		t.Errorf("checkpoint of size %d, want 3", cp.Size)
	}
	got, err := l.Query(t.Context(), store.EventFilter{After: -1})
	if err != nil || len(got) != 3 {
		t.Fatalf("Query = %d events, %v; want 3 (not the rolled-back one)", len(got), err)
	}
	for i, ev := range got {
		if ev.Event.Target != testEvent(i).Target {
			t.Errorf("event %d: target %q, want %q", i, ev.Event.Target, testEvent(i).Target)
		}
	}
	if rep, err := ledger.VerifyLog(t.Context(), l.Source(), ledger.VerifyOptions{Verifier: signer.Verifier()}); err != nil {
		t.Errorf("VerifyLog: %v (%+v)", err, rep)
	}
}
