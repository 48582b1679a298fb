package trust

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// benchCalls returns a ring of calls of n callers, each with its own
// host, credential and a few routes on a few targets, and some errors.
func benchCalls(n, size int) []Call {
	routes := []string{"/v1/orders", "/v1/orders/{id}", "/v1/payments", "/v1/payments/{id}", "/v1/customers/{id}", "/v1/refunds"}
	targets := []string{"spiffe://example.org/orders", "spiffe://example.org/payments", "spiffe://example.org/customers"}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("spiffe://example.org/ns/prod/sa/service-%06d", i)
	}
	calls := make([]Call, size)
	for k := range calls {
		i := k % n
		r := (k / n) % len(routes)
		c := Call{Caller: ids[i], Credential: fmt.Sprintf("serial-%d-%d", i, k%3), CredentialType: "x509_svid",
			Target: targets[(k/n)%len(targets)], Method: "GET", Route: routes[r], Path: routes[r],
			Status: 200, ReqBytes: 200, RespBytes: int64(1000 + 37*(k%50)), Decision: "allow",
			Source: netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(10 + k%3)}), Node: "spiffe://example.org/kith/agent/n1"}
		if k%97 == 0 {
			c.Status = 404
		}
		calls[k] = c
	}
	return calls
}

// BenchmarkObserve is the per-record cost of the engine in its steady
// state: 10,000 callers past their warm-up, each called about once a
// second, every detector running (goal: ≤ 1 µs and no allocation).
func BenchmarkObserve(b *testing.B) {
	const callers = 10000
	e, err := New(Config{HashSeed: 1, Tuning: Tuning{WarmUp: time.Minute, MinCalls: 10}})
	if err != nil {
		b.Fatal(err)
	}
	calls := benchCalls(callers, 1<<16)
	step := time.Second / callers // each caller once a second
	now := t0
	feed := func(n int) {
		for k := range n {
			c := &calls[k%len(calls)]
			now = now.Add(step)
			c.Time = now
			e.Observe(c)
		}
	}
	feed(callers * 600) // ten minutes of history
	b.ReportAllocs()
	b.ResetTimer()
	feed(b.N)
	b.StopTimer()
	if st := e.Stats(); st.Callers != callers {
		b.Fatalf("%d callers", st.Callers)
	}
}

// heapAfterGC returns the live heap.
func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// memoryPerCaller returns the heap an engine holds per caller once it
// tracks n callers that have each made a few calls.
func memoryPerCaller(tb testing.TB, n int) float64 {
	tb.Helper()
	calls := benchCalls(n, n*6)
	before := heapAfterGC()
	e, err := New(Config{HashSeed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	for k := range calls {
		calls[k].Time = t0.Add(time.Duration(k) * time.Millisecond)
		e.Observe(&calls[k])
	}
	after := heapAfterGC()
	runtime.KeepAlive(e)
	runtime.KeepAlive(calls) // held across both readings: not the engine's
	return float64(after-before) / float64(n)
}

// TestMemoryPerCaller: an engine tracking 100,000 callers holds at most
// 2 KB for each.
func TestMemoryPerCaller(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 200 MB")
	}
	per := memoryPerCaller(t, 100000)
	t.Logf("%.0f bytes per caller at 100,000 callers", per)
	if per > 2048 {
		t.Errorf("%.0f bytes per caller, want at most 2048", per)
	}
}

// BenchmarkMemoryPerCaller reports the heap per tracked caller at
// 100,000 callers (the goal is 2 KB).
func BenchmarkMemoryPerCaller(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(memoryPerCaller(b, 100000), "B/caller")
	}
}

// benchReplayInput returns n lines of replay input from synthetic
// traffic of a few dozen callers.
func benchReplayInput(n int) []byte {
	var buf bytes.Buffer
	ws := make([]*workload, 40)
	for i := range ws {
		ws[i] = newWorkload(fmt.Sprintf("spiffe://example.org/ns/prod/sa/svc-%02d", i), uint64(i+1), 2, 3)
	}
	count := 0
	from := t0
	for count < n {
		to := from.Add(time.Minute)
		merge(from, to, func(c *Call) {
			if count < n {
				buf.Write(lineOf(c))
				count++
			}
		}, ws...)
		from = to
	}
	return buf.Bytes()
}

// BenchmarkReplay is the replay's throughput, parsing included (goal:
// at least a million records a second).
func BenchmarkReplay(b *testing.B) {
	const n = 200000
	in := benchReplayInput(n)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := Replay(bytes.NewReader(in), io.Discard, ReplayConfig{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkParseLine is the cost of parsing one replay line.
func BenchmarkParseLine(b *testing.B) {
	line := bytes.TrimSpace(benchReplayInput(1))
	var p lineParser
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshot is the cost of writing a snapshot, per caller.
func BenchmarkSnapshot(b *testing.B) {
	const n = 10000
	e, _ := New(Config{HashSeed: 1})
	calls := benchCalls(n, n*4)
	for k := range calls {
		calls[k].Time = t0.Add(time.Duration(k) * time.Millisecond)
		e.Observe(&calls[k])
	}
	var buf bytes.Buffer
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		if err := e.WriteSnapshot(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/n, "B/caller")
}
