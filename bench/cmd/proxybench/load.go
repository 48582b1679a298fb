package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The load pattern and the percentiles below are copied in
// internal/proxy/pair_bench_test.go (BenchmarkProxyPair); keep the two
// the same.

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

var errNoCalls = errors.New("no call succeeded")
