package proxy_test

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/proxy/proxytest"
)

// BenchmarkProxyPair measures what an outbound+inbound proxy pair adds
// to a call (mTLS between the proxies, token verification, policy,
// telemetry on both sides) against the direct plain-HTTP call from the
// application to the service, with the load pattern and percentiles of
// bench/cmd/proxybench (which compares the pair, run in a process of its
// own, with an nginx pair):
//
//   - "1000rps": b.N calls paced open loop at 1,000 calls/s, the i-th
//     scheduled at start+i ms and handed to the first free of 64 callers;
//     a call's latency runs from its scheduled time, so a call that
//     starts late counts its wait;
//   - "max": b.N calls from 16 parallel callers back to back.
//
// Use -benchtime 5000x for five seconds at 1,000 calls/s:
//
//	go test ./internal/proxy/ -run XXX -bench BenchmarkProxyPair -benchtime 5000x -count 3
//
// It reports the added nearest-rank p50/p90/p99 latency in microseconds
// (pair minus direct, per percentile), the pair's and the direct call's
// rate, and the process CPU (getrusage, so client, proxies and upstream
// together) per 1,000 calls/s of the pair, of the direct call, and their
// difference, an estimate of the pair's own CPU.
func BenchmarkProxyPair(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	h := newHarness(b, ok, false)
	tokens := &staticTokens{token: h.env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders", Scope: "read"},
		target.String(), proxytest.SignGood)}
	pair := newOutbound(b, h, tokens, nil) + "/api/x"
	direct := httptest.NewServer(ok)
	b.Cleanup(direct.Close)
	const workers, callers = 64, 16
	tr := &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	for _, rate := range []int{1000, 0} {
		name := "max"
		if rate > 0 {
			name = fmt.Sprintf("%drps", rate)
		}
		b.Run(name, func(b *testing.B) {
			measure := func(url string) (*sample, float64) {
				call := getter(cl, url)
				load := func(n int) *sample {
					if rate > 0 {
						return pacedLoad(n, rate, workers, call)
					}
					return maxLoad(callers, n, time.Time{}, call)
				}
				load(max(200, b.N/10)) // warm-up
				cpu0 := cpuTime()
				s := load(b.N)
				cpu := cpuTime() - cpu0
				if s.errs > 0 || len(s.lat) == 0 {
					b.Fatalf("%s: %d of %d calls failed", url, s.errs, b.N)
				}
				return s, cpu.Seconds() / s.wall.Seconds() / (s.rps / 1000)
			}
			d, dcpu := measure(direct.URL + "/api/x")
			p, pcpu := measure(pair)
			for _, q := range []struct {
				name string
				q    float64
			}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}} {
				b.ReportMetric(float64(p.quantile(q.q)-d.quantile(q.q))/float64(time.Microsecond), "added-"+q.name+"-µs")
			}
			b.ReportMetric(pcpu, "pair-vCPU/1krps")
			b.ReportMetric(dcpu, "direct-vCPU/1krps")
			b.ReportMetric(pcpu-dcpu, "added-vCPU/1krps")
			b.ReportMetric(p.rps, "pair-rps")
			b.ReportMetric(d.rps, "direct-rps")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// cpuTime returns the user and system CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The load pattern and the percentiles below are copied from
// bench/cmd/proxybench/load.go; keep the two the same.
// sample is the outcome of one measured run.
type sample struct {
	lat  []time.Duration // of the successful calls, sorted
	errs int
	wall time.Duration
	rps  float64 // successful calls per second of wall time
}

func newSample(lat []time.Duration, errs int, wall time.Duration) *sample {
	slices.Sort(lat)
	return &sample{lat: lat, errs: errs, wall: wall, rps: float64(len(lat)) / wall.Seconds()}
}

// quantile returns the nearest-rank q-quantile of the latencies.
func (s *sample) quantile(q float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(s.lat)))) - 1
	return s.lat[max(0, min(i, len(s.lat)-1))]
}

// pacedLoad makes n calls at rate calls per second, open loop: the i-th
// call is scheduled at start+i/rate and handed to the first free of
// workers callers. Its latency runs from the scheduled time, not from
// when it was sent, so a call that starts late (all callers busy, or the
// pacer woke up late) counts its wait instead of hiding it.
func pacedLoad(n, rate, workers int, call func() error) *sample {
	type job struct {
		i  int
		at time.Time
	}
	jobs := make(chan job, n)
	lat := make([]time.Duration, n)
	failed := make([]bool, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				err := call()
				lat[j.i] = time.Since(j.at)
				failed[j.i] = err != nil
			}
		})
	}
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		jobs <- job{i, at}
	}
	close(jobs)
	wg.Wait()
	wall := time.Since(start)
	ok, errs := lat[:0], 0
	for i, d := range lat {
		if failed[i] {
			errs++
			continue
		}
		ok = append(ok, d)
	}
	return newSample(ok, errs, wall)
}

// maxLoad runs callers callers back to back (closed loop) until n calls
// are made (n > 0) or until is reached (non-zero); each call's latency
// runs from its send, which is also its scheduled time.
func maxLoad(callers, n int, until time.Time, call func() error) *sample {
	var next atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Go(func() {
			var lat []time.Duration
			e := 0
			for (n <= 0 || next.Add(1) <= int64(n)) && (until.IsZero() || time.Now().Before(until)) {
				t := time.Now()
				if err := call(); err != nil {
					e++
					continue
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += e
			mu.Unlock()
		})
	}
	wg.Wait()
	return newSample(all, errs, time.Since(start))
}

// getter returns a call that GETs url with cl and wants a 200.
func getter(cl *http.Client, url string) func() error {
	return func() error {
		resp, err := cl.Get(url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: status %d", url, resp.StatusCode)
		}
		return err
	}
}
