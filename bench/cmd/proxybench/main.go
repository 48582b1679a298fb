// Command proxybench measures, in one run on loopback, what a sidecar
// proxy pair adds to a call (issue #7): the direct call from a client to
// an upstream, the same call through an nginx pair (an "outbound" nginx
// proxying over mTLS with a client certificate to an "inbound" nginx that
// requires one; Debian's nginx, a plain proxy doing no authorization),
// and through Kith's outbound+inbound pair (mTLS with SVIDs, access token
// verification, policy, telemetry).
//
// Each run measures every target at a paced 1,000 calls/s (open loop:
// latency from each call's scheduled send time) and at the maximum rate
// of -callers parallel callers sending back to back. It reports
// percentiles of the added latency (target minus direct, per quantile),
// the rate reached, and the proxies' CPU (utime+stime of their processes
// from /proc, so the load generator and the upstream are not counted) in
// vCPU per 1,000 calls/s. With -runs N it prints the median of N runs.
//
// nginx is /usr/sbin/nginx (Debian: apt-get install nginx-light); the
// nginx row is skipped when it is absent. Kith's pair runs as a child
// process of this program.
//
//	cd bench && go run ./cmd/proxybench -duration 5s -runs 3
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kith-dev/kith/internal/loadgen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		os.Exit(1)
	}
}

// target is one way of reaching the upstream.
type target struct {
	name string
	url  string
	pids func() []int // processes whose CPU is the target's; nil for direct
	cl   *http.Client
}

// measurement is one target at one load in one run.
type measurement struct {
	s   *loadgen.Sample
	cpu float64 // vCPU per 1,000 calls/s of the target's processes
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("proxybench", flag.ContinueOnError)
	var (
		child     = fs.Bool("kith-child", false, "internal: serve Kith's pair (used by the parent)")
		upstream  = fs.String("upstream", "", "internal: upstream URL for -kith-child")
		kithLog   = fs.String("kith-log", os.DevNull, "internal: access log file for -kith-child")
		nginxBin  = fs.String("nginx", "/usr/sbin/nginx", "nginx binary; the nginx row is skipped when absent")
		rate      = fs.Int("rate", 1000, "paced rate, calls per second")
		duration  = fs.Duration("duration", 5*time.Second, "length of each measurement")
		warmup    = fs.Duration("warmup", time.Second, "unmeasured load before each measurement")
		callers   = fs.Int("callers", 16, "parallel callers of the maximum-rate measurement")
		workers   = fs.Int("workers", 64, "callers the paced measurement hands scheduled calls to")
		runs      = fs.Int("runs", 3, "runs; the table shows their medians")
		keepFiles = fs.Bool("keep", false, "keep the temporary folder (certificates, configurations, logs)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *child {
		return kithChild(*upstream, *kithLog)
	}
	if *rate < 1 || *duration <= 0 || *callers < 1 || *workers < 1 || *runs < 1 {
		return fmt.Errorf("-rate, -duration, -callers, -workers and -runs must be positive")
	}

	dir, err := os.MkdirTemp("", "proxybench-")
	if err != nil {
		return err
	}
	if *keepFiles {
		fmt.Fprintf(stdout, "files in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go up.Serve(ln)
	defer up.Close()
	upURL := "http://" + ln.Addr().String()

	newClient := func() *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 0, MaxIdleConnsPerHost: max(*workers, *callers), DisableCompression: true}}
	}
	targets := []*target{{name: "direct", url: upURL, cl: newClient()}}
	if _, err := os.Stat(*nginxBin); err != nil {
		fmt.Fprintf(stdout, "nginx: %s not found, skipping the nginx row (apt-get install nginx-light)\n", *nginxBin)
	} else {
		ng, err := startNginxPair(*nginxBin, dir, ln.Addr().String())
		if err != nil {
			return err
		}
		defer ng.stop()
		targets = append(targets, &target{name: "nginx pair", url: ng.url, pids: ng.pids, cl: newClient()})
	}
	kp, err := startKithPair(upURL, filepath.Join(dir, "kith-access.log"))
	if err != nil {
		return err
	}
	defer kp.stop()
	targets = append(targets, &target{name: "kith pair", url: kp.url, pids: kp.pids, cl: newClient()})

	fmt.Fprintf(stdout, "load average before: %s", loadavg())
	fmt.Fprintf(stdout, "%d runs; each: %v per measurement after %v warm-up; paced %d calls/s over %d workers; max rate with %d callers\n",
		*runs, *duration, *warmup, *rate, *workers, *callers)

	loads := []string{fmt.Sprintf("%d/s", *rate), "max"}
	// results[load][target][run]
	results := make([][][]measurement, len(loads))
	for li := range loads {
		results[li] = make([][]measurement, len(targets))
	}
	for r := range *runs {
		for li, load := range loads {
			for ti, t := range targets {
				call := loadgen.Get(t.cl, t.url+"/api/x")
				measure := func(d time.Duration) *loadgen.Sample {
					if li == 0 {
						return loadgen.Paced(int(float64(*rate)*d.Seconds()), *rate, *workers, call)
					}
					return loadgen.Closed(*callers, 0, time.Now().Add(d), call)
				}
				measure(*warmup)
				var pids []int
				if t.pids != nil {
					pids = t.pids()
				}
				cpu0 := cpuOf(pids)
				s := measure(*duration)
				cpu := cpuOf(pids) - cpu0
				if len(s.Lat) == 0 {
					return fmt.Errorf("%s %s: %w (%d errors)", t.name, load, errNoCalls, s.Errs)
				}
				m := measurement{s: s}
				if t.pids != nil {
					m.cpu = cpu.Seconds() / s.Wall.Seconds() / (s.RPS / 1000)
				}
				results[li][ti] = append(results[li][ti], m)
				fmt.Fprintf(stdout, "run %d %-5s %-10s %8.0f calls/s  p50 %7.1fµs  p90 %7.1fµs  p99 %7.1fµs  %.3f vCPU/1k  %d errors\n",
					r+1, load, t.name, s.RPS, us(s.Quantile(.5)), us(s.Quantile(.9)), us(s.Quantile(.99)), m.cpu, s.Errs)
			}
		}
	}
	fmt.Fprintf(stdout, "load average after: %s\n", loadavg())

	qs := []float64{.5, .9, .99}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "median of %d runs\t", *runs)
	for _, load := range loads {
		fmt.Fprintf(tw, "%s p50\t%s p90\t%s p99\t", load, load, load)
	}
	fmt.Fprintf(tw, "max rate calls/s\tvCPU/1k @%s\tvCPU/1k @max\t\n", loads[0])
	for ti, t := range targets {
		fmt.Fprintf(tw, "%s\t", t.name)
		for li := range loads {
			for _, q := range qs {
				v := median(results[li][ti], func(run int, m measurement) float64 {
					d := m.s.Quantile(q)
					if ti > 0 {
						d -= results[li][0][run].s.Quantile(q) // added to the direct call of the same run
					}
					return us(d)
				})
				if ti > 0 {
					fmt.Fprintf(tw, "%+.0fµs\t", v)
				} else {
					fmt.Fprintf(tw, "%.0fµs\t", v)
				}
			}
		}
		rps := median(results[1][ti], func(_ int, m measurement) float64 { return m.s.RPS })
		fmt.Fprintf(tw, "%.0f\t", rps)
		for li := range loads {
			if t.pids == nil {
				fmt.Fprintf(tw, "-\t")
				continue
			}
			fmt.Fprintf(tw, "%.3f\t", median(results[li][ti], func(_ int, m measurement) float64 { return m.cpu }))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "direct: absolute latency; pairs: latency added to the direct call of the same run, per percentile.")
	return nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// median returns the median of f over ms (the mean of the middle two for
// an even count).
func median(ms []measurement, f func(run int, m measurement) float64) float64 {
	vs := make([]float64, len(ms))
	for i, m := range ms {
		vs[i] = f(i, m)
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown\n"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ") + "\n"
}
