package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/loadgen"
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
			measure := func(url string) (*loadgen.Sample, float64) {
				call := loadgen.Get(cl, url)
				load := func(n int) *loadgen.Sample {
					if rate > 0 {
						return loadgen.Paced(n, rate, workers, call)
					}
					return loadgen.Closed(callers, n, time.Time{}, call)
				}
				load(max(200, b.N/10)) // warm-up
				cpu0 := cpuTime()
				s := load(b.N)
				cpu := cpuTime() - cpu0
				if s.Errs > 0 || len(s.Lat) == 0 {
					b.Fatalf("%s: %d of %d calls failed", url, s.Errs, b.N)
				}
				return s, cpu.Seconds() / s.Wall.Seconds() / (s.RPS / 1000)
			}
			d, dcpu := measure(direct.URL + "/api/x")
			p, pcpu := measure(pair)
			for _, q := range []struct {
				name string
				q    float64
			}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}} {
				b.ReportMetric(float64(p.Quantile(q.q)-d.Quantile(q.q))/float64(time.Microsecond), "added-"+q.name+"-µs")
			}
			b.ReportMetric(pcpu, "pair-vCPU/1krps")
			b.ReportMetric(dcpu, "direct-vCPU/1krps")
			b.ReportMetric(pcpu-dcpu, "added-vCPU/1krps")
			b.ReportMetric(p.RPS, "pair-rps")
			b.ReportMetric(d.RPS, "direct-rps")
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
