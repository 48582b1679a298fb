package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// errOutOfAssertions stops a private_key_jwt run that outpaced presign.
var errOutOfAssertions = errors.New("out of pre-signed assertions; raise -presign-rate")

// result is what a run measured.
type result struct {
	elapsed   time.Duration
	ok        int
	failures  map[string]int // by status or error
	latencies []time.Duration
}

// load runs conns workers, each over its own keep-alive connection, for d,
// spreading requests over the clients.
func (t *target) load(ctx context.Context, conns int, d time.Duration) *result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var next atomic.Uint64
	var mu sync.Mutex
	res := &result{failures: map[string]int{}}
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			hc := &http.Client{Transport: t.transport(), Timeout: 10 * time.Second}
			defer hc.CloseIdleConnections()
			lat := make([]time.Duration, 0, 1<<16)
			ok, fails := 0, map[string]int{}
			for ctx.Err() == nil {
				c := t.clients[next.Add(1)%uint64(len(t.clients))]
				var req *http.Request
				var err error
				if c.token != "" {
					req, err = t.introspectRequest(context.WithoutCancel(ctx), c)
				} else {
					req, err = t.tokenRequest(context.WithoutCancel(ctx), c)
				}
				if err != nil {
					fails[err.Error()]++
					if errors.Is(err, errOutOfAssertions) {
						break
					}
					continue
				}
				begin := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					fails["transport: "+err.Error()]++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(begin))
				if resp.StatusCode == http.StatusOK {
					ok++
				} else {
					fails[resp.Status]++
				}
			}
			mu.Lock()
			res.ok += ok
			res.latencies = append(res.latencies, lat...)
			for k, v := range fails {
				res.failures[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// print writes the run's figures.
func (r *result) print(w io.Writer, mode string) {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	unit := map[string]string{"token": "tokens/s", "introspect": "introspections/s", "floor": "responses/s"}[mode]
	fmt.Fprintf(w, "%d ok in %v: %.0f %s\n", r.ok, r.elapsed.Round(time.Millisecond), float64(r.ok)/r.elapsed.Seconds(), unit)
	fmt.Fprintf(w, "latency p50 %v  p99 %v  p99.9 %v  max %v\n",
		pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(0.999).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	keys := make([]string, 0, len(r.failures))
	for k := range r.failures {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "failed: %d × %s\n", r.failures[k], k)
	}
}
