package ledger_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
)

// benchEvent is an event of a realistic size (about 500 bytes of entry).
func benchEvent() audit.Event {
	return audit.Event{
		Type: "call.decided",
		Actor: audit.Actor{Kind: "workload", ID: "spiffe://example.org/ns/billing/sa/invoicer", CredentialID: "jti-0b6f2c4e",
			CredentialType: "jwt_svid", Owner: "team-billing", BusinessFunction: "invoicing"},
		Target:    "spiffe://example.org/ns/payments/sa/ledger-api",
		Action:    "call",
		Outcome:   audit.OutcomeSuccess,
		Policy:    &audit.Policy{Revision: 1234, Rule: "billing-may-post-invoices"},
		Trust:     &audit.Trust{Score: 93},
		RequestID: "req-5f1c9a7e",
		TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		Details:   map[string]string{"method": "POST", "path": "/v1/invoices", "status": "201"},
	}
}

// BenchmarkRecord measures sustained appends with 64 (and 256) appenders
// per GOMAXPROCS and the checkpoint loop running; it reports events/s,
// the mean batch committed, the share of the time the store was busy
// committing, and the 99th percentile of Record's latency. With
// callers=1 every event has the same actor and target; with
// callers=1000 actors cycle over 1,000 workloads and targets over 200
// services, as call records from a busy mesh do, which spreads the
// writes to the audit query index over many more pages.
func BenchmarkRecord(b *testing.B) {
	for _, be := range backends {
		for _, callers := range []int{1, 1000} {
			for _, par := range []int{64, 256} {
				b.Run(fmt.Sprintf("%s/callers=%d/appenders=%dxGOMAXPROCS", be.name, callers, par), func(b *testing.B) {
					benchRecord(b, be.url(b), callers, par)
				})
			}
		}
	}
}

func benchRecord(b *testing.B, url string, callers, par int) {
	s := &countingStore{Store: openStore(b, url)}
	l := newLedger(b, s, newSigner(b), func(c *ledger.Config) { c.Clock = time.Now })
	runLedger(b, l)
	actors := make([]string, callers)
	targets := make([]string, min(callers, 200))
	for i := range actors {
		actors[i] = fmt.Sprintf("spiffe://example.org/ns/team-%d/sa/workload-%d", i%37, i)
	}
	for i := range targets {
		targets[i] = fmt.Sprintf("spiffe://example.org/ns/svc-%d/sa/api", i)
	}
	var next atomic.Uint64
	var mu sync.Mutex
	var latencies []time.Duration
	b.SetParallelism(par)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		defer func() {
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
		ev := benchEvent()
		for pb.Next() {
			n := next.Add(1)
			ev.Actor.ID, ev.Target = actors[n%uint64(len(actors))], targets[(n*7)%uint64(len(targets))]
			start := time.Now()
			if _, err := l.Record(b.Context(), ev); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/float64(s.commits.Load()), "events/commit")
	b.ReportMetric(float64(s.busy.Load())/float64(b.Elapsed()), "store-busy")
	if len(latencies) > 0 {
		slices.Sort(latencies)
		b.ReportMetric(float64(latencies[len(latencies)*99/100])/float64(time.Millisecond), "p99-ms")
	}
}

// benchTreeSize is the size of the tree BenchmarkInclusionProof builds:
// KITH_BENCH_TREE_SIZE, or ten million.
func benchTreeSize(b *testing.B) int {
	if v := os.Getenv("KITH_BENCH_TREE_SIZE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("KITH_BENCH_TREE_SIZE=%q", v)
		}
		return n
	}
	return 10_000_000
}

// bigTree returns the URL of a SQLite store holding a tree of n entries.
// Building it takes a while, so it is kept in the temporary folder
// (kith-ledger-bench-N.db) and reused by later runs.
func bigTree(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("kith-ledger-bench-%d.db", n))
	url := "sqlite:" + path
	if _, err := os.Stat(path); err == nil {
		return url
	}
	partial := path + ".partial"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(partial + suffix)
	}
	s := openStore(b, "sqlite:"+partial)
	l := newLedger(b, s, newSigner(b), nil)
	start := time.Now()
	err := l.BulkLoad(b.Context(), n, 100_000, func(done int) {
		if done%1_000_000 == 0 {
			b.Logf("bulk load: %d entries in %v", done, time.Since(start).Round(time.Second))
		}
	})
	if err != nil {
		b.Fatalf("bulk load: %v", err)
	}
	b.Logf("built a tree of %d entries in %v", n, time.Since(start).Round(time.Second))
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(partial, path); err != nil {
		b.Fatal(err)
	}
	return url
}

// BenchmarkInclusionProof measures inclusion proofs of random entries in
// a tree of ten million entries (see bigTree), consistency proofs from
// random sizes, and reading pages of 1000 entries.
func BenchmarkInclusionProof(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a tree of ten million entries")
	}
	n := uint64(benchTreeSize(b))
	st := openStore(b, bigTree(b, int(n)))
	l := newLedger(b, st, newSigner(b), nil)
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run("inclusion", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.InclusionProof(b.Context(), rng.Uint64N(n), n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("consistency", func(b *testing.B) {
		for b.Loop() {
			from := 1 + rng.Uint64N(n-1)
			if _, err := l.ConsistencyProof(b.Context(), from, n); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Audit queries: a page of 100 events of one of 1,000 actors from a
	// random place, and every event of an actor seen once in a million
	// (the whole key index is consulted).
	b.Run("query-actor-100", func(b *testing.B) {
		for b.Loop() {
			f := store.EventFilter{Actor: fmt.Sprint("actor-", rng.IntN(1000)), After: rng.Int64N(int64(n)), Limit: 100}
			if _, err := st.ListEvents(b.Context(), f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("query-rare-actor", func(b *testing.B) {
		for b.Loop() {
			evs, err := st.ListEvents(b.Context(), store.EventFilter{Actor: "rare", After: -1, Limit: 1000})
			if err != nil || len(evs) != int(n/1_000_000) {
				b.Fatalf("%d events, %v", len(evs), err)
			}
		}
	})
	b.Run("entries-1000", func(b *testing.B) {
		for b.Loop() {
			i := rng.Uint64N(n - 1000)
			if _, err := l.Entries(b.Context(), i, i+1000); err != nil && !errors.Is(err, ledger.ErrOutOfRange) {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyLog measures what `kith audit verify --log` does, in
// process: walk the whole log of bigTree (ten million entries unless
// KITH_BENCH_TREE_SIZE says otherwise), rehash every entry, rebuild the
// tree and check it against the signed checkpoint. It reports entries/s.
func BenchmarkVerifyLog(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a tree of ten million entries")
	}
	n := benchTreeSize(b)
	st := openStore(b, bigTree(b, n))
	signer, err := ledger.NewSigner(fuzzKey) // a fixed key: the checkpoint stays in the cached tree
	if err != nil {
		b.Fatal(err)
	}
	l := newLedger(b, st, signer, nil)
	if _, err := l.PublishForTest(b.Context()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rep, err := ledger.VerifyLog(b.Context(), l.Source(), ledger.VerifyOptions{Verifier: signer.Verifier()})
		if err != nil || rep.Problem != "" || rep.Size != uint64(n) {
			b.Fatalf("VerifyLog = %+v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkVerifyRecent measures the check a server makes at start on
// bigTree (ten million entries unless KITH_BENCH_TREE_SIZE says
// otherwise): the last DefaultRecentEntries entries against the signed
// checkpoint, as a freshly started server does (empty node cache).
func BenchmarkVerifyRecent(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a tree of ten million entries")
	}
	n := benchTreeSize(b)
	url := bigTree(b, n)
	signer, err := ledger.NewSigner(fuzzKey)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := newLedger(b, openStore(b, url), signer, nil).PublishForTest(b.Context()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		l := newLedger(b, openStore(b, url), signer, nil)
		rep, err := l.VerifyRecent(b.Context(), 0)
		if err != nil || rep.Problem != "" || rep.Size != uint64(n) {
			b.Fatalf("VerifyRecent = %+v, %v", rep, err)
		}
	}
}
