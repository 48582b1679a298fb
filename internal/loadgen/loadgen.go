// Package loadgen drives HTTP load for benchmarks: open-loop paced calls
// whose latency counts from the scheduled send time (so late starts are not
// hidden), closed-loop back-to-back calls, and nearest-rank percentiles.
// BenchmarkProxyPair and bench/cmd/proxybench share it so that their
// figures are comparable. It is for measuring only; nothing in the request
// path uses it.
package loadgen

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Sample is the outcome of one measured run.
type Sample struct {
	// Lat are the latencies of the successful calls, sorted.
	Lat []time.Duration
	// Errs counts the failed calls.
	Errs int
	// Wall is how long the run took.
	Wall time.Duration
	// RPS is successful calls per second of wall time.
	RPS float64
}

func newSample(lat []time.Duration, errs int, wall time.Duration) *Sample {
	slices.Sort(lat)
	return &Sample{Lat: lat, Errs: errs, Wall: wall, RPS: float64(len(lat)) / wall.Seconds()}
}

// Quantile returns the nearest-rank q-quantile of the latencies.
func (s *Sample) Quantile(q float64) time.Duration {
	if len(s.Lat) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(s.Lat)))) - 1
	return s.Lat[max(0, min(i, len(s.Lat)-1))]
}

// Paced makes n calls at rate calls per second, open loop: the i-th
// call is scheduled at start+i/rate and handed to the first free of
// workers callers. Its latency runs from the scheduled time, not from
// when it was sent, so a call that starts late (all callers busy, or the
// pacer woke up late) counts its wait instead of hiding it.
func Paced(n, rate, workers int, call func() error) *Sample {
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

// Closed runs callers callers back to back (closed loop) until n calls
// are made (n > 0) or until is reached (non-zero); each call's latency
// runs from its send, which is also its scheduled time.
func Closed(callers, n int, until time.Time, call func() error) *Sample {
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

// Get returns a call that GETs url with cl and wants a 200.
func Get(cl *http.Client, url string) func() error {
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
