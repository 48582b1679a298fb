package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/nodes"
)

// BenchmarkRevocationFanout measures the time from `kith entry revoke`
// (the admin API call) to the signed revocation being verified by each of
// 100 agents holding a sync stream over its own mutual-TLS HTTP/2
// connection, all in this process. Each iteration is one revocation; the
// latencies of every agent for every revocation give p50, p99 and max.
//
//	go test ./internal/server -run '^$' -bench RevocationFanout -benchtime 50x
func BenchmarkRevocationFanout(b *testing.B) {
	const agents = 100
	ts := startServer(b, "example.org")
	entries := make([]string, 10)
	for i := range entries {
		entries[i] = ts.createEntryAPI(b, fmt.Sprintf("bench-%d", i), "").ID
	}
	jwtBundle := jwtbundle.FromJWTAuthorities(ts.TrustDomain(), ts.CA().Bundle().JWTAuthorities())

	var mu sync.Mutex
	var want string     // the SPIFFE ID being revoked
	var start time.Time // when its revocation was asked for
	var latencies []time.Duration
	got := make(chan struct{}, agents)
	for range agents {
		a := ts.attestAgent(b)
		s := a.openSync(b, ts, 0, 0)
		s.next(b)
		go func() {
			for m := range s.msgs {
				if m.Revocations == "" {
					continue
				}
				batch, err := agentproto.VerifyRevocations(m.Revocations, jwtBundle)
				if err != nil {
					b.Error(err)
					return
				}
				at := time.Now()
				mu.Lock()
				for _, r := range batch.Entries {
					if r.Value == want && !start.IsZero() {
						latencies = append(latencies, at.Sub(start))
						got <- struct{}{}
					}
				}
				mu.Unlock()
			}
		}()
	}
	ts.waitHub(b)

	b.ResetTimer()
	for i := range b.N {
		e := entries[i%len(entries)]
		mu.Lock()
		want, start = "spiffe://example.org/bench-"+strconv.Itoa(i%len(entries)), time.Now()
		mu.Unlock()
		if code := ts.do(b, "POST", "/v1/entries/"+e+"/revoke", ts.token, nil, nil); code != http.StatusOK {
			b.Fatalf("revoke: %d", code)
		}
		for range agents {
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				b.Fatal("a revocation did not reach every agent within 10s")
			}
		}
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	q := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds())/1000, "max-ms")
	b.Logf("%d agents, %d revocations, %d samples: p50 %v, p99 %v, max %v",
		agents, b.N, len(latencies), q(0.5), q(0.99), latencies[len(latencies)-1])
}

// fleetEnv names the file that makes TestAgentFleetHelper a fleet of
// idle agents for BenchmarkIdleAgentStreams.
const fleetEnv = "KITH_BENCH_AGENT_FLEET"

// fleet is what the helper process needs to connect its agents.
type fleet struct {
	Addr     string
	ServerID string
	Roots    [][]byte
	Agents   []fleetAgent
}

type fleetAgent struct {
	Chain [][]byte
	Key   []byte // PKCS#8
}

// BenchmarkIdleAgentStreams measures what an idle connected agent costs
// the server: heap, goroutine stacks and CPU per sync stream. The agents
// run in a helper process, so that the figures are the server's alone;
// the CPU is measured over an idle window longer than the heartbeat
// interval (KITH_BENCH_IDLE_WINDOW, 16s by default).
//
//	go test ./internal/server -run '^$' -bench IdleAgentStreams -benchtime 1x
func BenchmarkIdleAgentStreams(b *testing.B) {
	window := 16 * time.Second
	if v := os.Getenv("KITH_BENCH_IDLE_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		window = d
	}
	for _, n := range []int{100, 1000} {
		b.Run("streams="+strconv.Itoa(n), func(b *testing.B) {
			for range b.N {
				idleStreams(b, n, window)
			}
		})
	}
}

func idleStreams(b *testing.B, n int, window time.Duration) {
	ts := startServer(b, "example.org")
	f := fleet{Addr: ts.Addr(), ServerID: ts.ID().String()}
	for _, c := range ts.CA().X509Authorities() {
		f.Roots = append(f.Roots, c.Raw)
	}
	admin := audit.Actor{Kind: "admin", ID: "admin:bench"}
	for range n {
		tok, err := ts.agents.nodes.CreateJoinToken(b.Context(), admin, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		key, csr := newCSRKey(b)
		att, err := ts.agents.nodes.Attest(b.Context(), nodes.AttestRequest{JoinToken: tok.Reveal(), CSR: csr})
		if err != nil {
			b.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			b.Fatal(err)
		}
		f.Agents = append(f.Agents, fleetAgent{Chain: chainDER(att.SVID), Key: der})
	}
	path := filepath.Join(b.TempDir(), "fleet.json")
	raw, err := json.Marshal(f)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	ts.waitHub(b)

	before := memNow()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAgentFleetHelper$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), fleetEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	ready := bufio.NewScanner(stdout)
	for ready.Scan() && !strings.HasPrefix(ready.Text(), "ready") {
	}
	go io.Copy(io.Discard, stdout)
	if !await.Signal(time.Minute, ts.agents.hub.StatsChanged, func() bool { return ts.agents.hub.Stats().Streams == n }) {
		b.Fatalf("%d streams connected, want %d", ts.agents.hub.Stats().Streams, n)
	}
	after := memNow()
	cpu0 := cpuTime()
	time.Sleep(window) // the measured idle window: CPU per second is a rate over time, not a condition to wait for
	cpu := cpuTime() - cpu0
	perStream := func(v uint64, w uint64) float64 { return float64(int64(v)-int64(w)) / float64(n) }
	b.ReportMetric(perStream(after.heap, before.heap), "heap-B/stream")
	b.ReportMetric(perStream(after.stack, before.stack), "stack-B/stream")
	b.ReportMetric(perStream(uint64(after.goroutines), uint64(before.goroutines)), "goroutines/stream")
	b.ReportMetric(float64(cpu.Microseconds())/window.Seconds()/float64(n), "cpu-µs/s/stream")
	b.Logf("%d idle streams: heap %+.0f B, stacks %+.0f B, %+.1f goroutines per stream; CPU %v over %v idle (%.2f µs/s per stream)",
		n, perStream(after.heap, before.heap), perStream(after.stack, before.stack),
		perStream(uint64(after.goroutines), uint64(before.goroutines)), cpu, window,
		float64(cpu.Microseconds())/window.Seconds()/float64(n))
}

type memSample struct {
	heap, stack uint64
	goroutines  int
}

func memNow() memSample {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSample{heap: m.HeapInuse, stack: m.StackInuse, goroutines: runtime.NumGoroutine()}
}

// cpuTime returns the user and system CPU time this process used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestAgentFleetHelper is not a test: run by BenchmarkIdleAgentStreams
// with KITH_BENCH_AGENT_FLEET set, it holds the sync streams of the agents
// in that file open, prints "ready" once each got its first message, and
// exits when its standard input closes.
func TestAgentFleetHelper(t *testing.T) {
	path := os.Getenv(fleetEnv)
	if path == "" {
		t.Skip("helper process of BenchmarkIdleAgentStreams")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f fleet
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var roots []*x509.Certificate
	for _, der := range f.Roots {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, c)
	}
	serverID := spiffeid.RequireFromString(f.ServerID)
	bundle := x509bundle.FromX509Authorities(serverID.TrustDomain(), roots)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var firsts sync.WaitGroup
	for _, a := range f.Agents {
		key, err := x509.ParsePKCS8PrivateKey(a.Key)
		if err != nil {
			t.Fatal(err)
		}
		tc := tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(serverID))
		tc.Certificates = []tls.Certificate{{Certificate: a.Chain, PrivateKey: key}}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
		req, err := http.NewRequestWithContext(ctx, "GET", "https://"+f.Addr+"/agent/v1/sync", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(agentproto.ProtocolHeader, agentproto.ProtocolVersion)
		firsts.Add(1)
		go func() {
			resp, err := client.Do(req)
			if err != nil {
				firsts.Done()
				return
			}
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			first := true
			for {
				if _, err := r.ReadSlice('\n'); err != nil && err != bufio.ErrBufferFull {
					if first {
						firsts.Done()
					}
					return
				}
				if first {
					first = false
					firsts.Done()
				}
			}
		}()
	}
	firsts.Wait()
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}
