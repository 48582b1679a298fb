package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/proxy/proxytest"
)

// BenchmarkProxyPair measures what an outbound+inbound proxy pair adds
// to a call (mTLS between the proxies, token verification, policy,
// telemetry on both sides) against the direct plain-HTTP call from the
// application to the service, at a fixed rate of 1,000 calls/s and at the
// maximum rate of one caller sending back to back. b.N is the number of
// calls per run; use -benchtime 3000x for three seconds at 1,000 rps:
//
//	go test ./internal/proxy/ -run XXX -bench BenchmarkProxyPair -benchtime 3000x
//
// It reports the added p50/p90/p99 latency in microseconds (measured from
// each call's send with time.Now deltas), the process CPU (getrusage, so
// client, proxies and upstream together) per 1,000 calls/s of the pair
// and of the direct call, and the pair's achieved rate.
func BenchmarkProxyPair(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	h := newHarness(b, ok, false)
	tokens := &staticTokens{token: h.env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders", Scope: "read"},
		target.String(), proxytest.SignGood)}
	pair := newOutbound(b, h, tokens, nil) + "/api/x"
	direct := httptest.NewServer(ok)
	b.Cleanup(direct.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	b.Cleanup(tr.CloseIdleConnections)
	cl := &http.Client{Transport: tr}

	for _, rate := range []int{1000, 0} {
		name := "max"
		if rate > 0 {
			name = fmt.Sprintf("%drps", rate)
		}
		b.Run(name, func(b *testing.B) {
			d := paced(b, cl, direct.URL+"/api/x", rate, b.N)
			p := paced(b, cl, pair, rate, b.N)
			for _, q := range []struct {
				name string
				q    float64
			}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}} {
				b.ReportMetric(p.quantile(q.q)-d.quantile(q.q), "added-"+q.name+"-µs")
			}
			b.ReportMetric(p.cpuPer1k, "pair-vCPU/1krps")
			b.ReportMetric(d.cpuPer1k, "direct-vCPU/1krps")
			b.ReportMetric(p.rps, "pair-rps")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// run is the outcome of one paced run.
type pacedRun struct {
	lat      []time.Duration // sorted
	rps      float64
	cpuPer1k float64 // vCPU used per 1,000 calls/s
}

// quantile returns the q-quantile of the latencies in microseconds.
func (r *pacedRun) quantile(q float64) float64 {
	if len(r.lat) == 0 {
		return 0
	}
	i := min(int(q*float64(len(r.lat))), len(r.lat)-1)
	return float64(r.lat[i]) / float64(time.Microsecond)
}

// paced sends n GETs to url, starting one every 1/rate seconds (back to
// back when rate is 0), after a warm-up that opens the connections.
func paced(b *testing.B, cl *http.Client, url string, rate, n int) *pacedRun {
	b.Helper()
	call := func() time.Duration {
		start := time.Now()
		resp, err := cl.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: status %d", url, resp.StatusCode)
		}
		return time.Since(start)
	}
	for range 50 {
		call()
	}
	var interval time.Duration
	if rate > 0 {
		interval = time.Second / time.Duration(rate)
	}
	lat := make([]time.Duration, 0, n)
	cpu0 := cpuTime()
	start := time.Now()
	for i := range n {
		if interval > 0 {
			if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
				time.Sleep(wait)
			}
		}
		lat = append(lat, call())
	}
	wall := time.Since(start)
	cpu := cpuTime() - cpu0
	slices.Sort(lat)
	rps := float64(n) / wall.Seconds()
	return &pacedRun{lat: lat, rps: rps, cpuPer1k: cpu.Seconds() / wall.Seconds() / (rps / 1000)}
}

// cpuTime returns the user and system CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
