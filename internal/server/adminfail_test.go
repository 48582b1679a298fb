package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// metricValue returns the value of the counter or gauge name, which must
// have a single series.
func (ts *testServer) metricValue(t testing.TB, name string) float64 {
	t.Helper()
	mfs, err := ts.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// authFailedEvents returns the admin.auth.failed events in the ledger.
func (ts *testServer) authFailedEvents(t testing.TB) ([]audit.Event, []string) {
	t.Helper()
	var list api.EventList
	if code := ts.do(t, "GET", "/v1/events?type=admin.auth.failed&limit=1000", ts.token, nil, &list); code != http.StatusOK {
		t.Fatalf("list events: %d", code)
	}
	evs := make([]audit.Event, len(list.Events))
	raws := make([]string, len(list.Events))
	for i, e := range list.Events {
		if err := json.Unmarshal(e.Event, &evs[i]); err != nil {
			t.Fatal(err)
		}
		raws[i] = string(e.Event)
	}
	return evs, raws
}

// TestFailedAdminLoginsCoalescedAndLimited floods the admin API with
// wrong credentials from one address: the ledger gets a few events whose
// counts add up to the failures, the metric counts every one, the source
// is answered 429 once over its budget, a correct token from the same
// address is still accepted, and no presented secret reaches the ledger
// or the log.
func TestFailedAdminLoginsCoalescedAndLimited(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, "example.org", func(c *Config) {
		c.AdminAuditWindow = time.Hour // the test ends the window itself
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const n = 300
	wrongSecret := strings.Repeat("S", 43)
	wrongToken := ts.token[:len(adminTokenPrefix)+12] + "_" + wrongSecret // a real ID, a wrong secret
	tokens := []string{"nope-" + strings.Repeat("p", 30), wrongToken, ""}
	var (
		mu      sync.Mutex
		codes   = map[int]int{}
		retries []string
		wg      sync.WaitGroup
		sem     = make(chan struct{}, 16)
	)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			req, _ := http.NewRequest("GET", "https://"+ts.Addr()+"/v1/entries", nil)
			if tok := tokens[i%len(tokens)]; tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := ts.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			codes[resp.StatusCode]++
			if resp.StatusCode == http.StatusTooManyRequests {
				retries = append(retries, resp.Header.Get("Retry-After"))
			}
		})
	}
	wg.Wait()
	if codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests] != n {
		t.Errorf("answers %v, want %d of 401 or 429", codes, n)
	}
	if codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("answers %v: the source was never limited", codes)
	}
	for _, ra := range retries {
		if s, err := strconv.Atoi(ra); err != nil || s < 1 {
			t.Errorf("429 with Retry-After %q", ra)
			break
		}
	}
	// The source is over its budget, yet the right token passes.
	if code := ts.do(t, "GET", "/v1/entries", ts.token, nil, nil); code != http.StatusOK {
		t.Errorf("the admin from the same address: %d, want 200", code)
	}
	ts.flushAuthFailures(t.Context())

	if got := ts.metricValue(t, "kith_admin_auth_failures_total"); got != n {
		t.Errorf("kith_admin_auth_failures_total = %v, want %d", got, n)
	}
	evs, raws := ts.authFailedEvents(t)
	if len(evs) > 6 {
		t.Errorf("%d failed-login events in the ledger for %d failures from one address, want a few", len(evs), n)
	}
	total, limited := 0, 0
	for _, ev := range evs {
		c, err := strconv.Atoi(ev.Details["count"])
		if err != nil || c < 1 {
			t.Errorf("event without a count: %+v", ev)
		}
		total += c
		l, _ := strconv.Atoi(ev.Details["rate_limited"])
		limited += l
		if ev.Details["source"] != "127.0.0.1" {
			t.Errorf("event source %q", ev.Details["source"])
		}
	}
	if total != n {
		t.Errorf("the events count %d failures, want %d", total, n)
	}
	if limited != codes[http.StatusTooManyRequests] {
		t.Errorf("the events count %d rate-limited failures, the answers %d", limited, codes[http.StatusTooManyRequests])
	}
	for _, secret := range []string{wrongSecret, "nope-", ts.token[len(adminTokenPrefix)+13:]} {
		for _, raw := range raws {
			if strings.Contains(raw, secret) {
				t.Errorf("the ledger holds a presented secret %.10q…: %s", secret, raw)
			}
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds a presented secret %.10q…", secret)
		}
	}
}

// TestAuthFailuresBounded: failures from more sources than a window
// keeps apart are gathered into one event, the counts stay exact, and
// the rate limiter's memory is bounded.
func TestAuthFailuresBounded(t *testing.T) {
	a := newAuthFailures(1, 1)
	now := time.Unix(1e9, 0)
	firsts := 0
	const sources = maxFailSources * 3
	for i := range sources {
		for range 2 {
			first, _ := a.note(failure{source: "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256), reason: "wrong admin token", now: now})
			if first {
				firsts++
			}
		}
	}
	evs := a.endWindow(now)
	if firsts != maxFailSources {
		t.Errorf("%d failures recorded at once, want %d", firsts, maxFailSources)
	}
	if len(evs) != maxFailSources+1 {
		t.Errorf("%d events for the window, want %d", len(evs), maxFailSources+1)
	}
	total := firsts
	for _, ev := range evs {
		c, _ := strconv.Atoi(ev.Details["count"])
		total += c
	}
	if total != 2*sources {
		t.Errorf("counted %d failures, want %d", total, 2*sources)
	}
	if len(a.seen) != 0 {
		t.Errorf("%d keys left after the window", len(a.seen))
	}
	for i := range maxFailBuckets + 10 {
		a.note(failure{source: "s" + strconv.Itoa(i), now: now})
	}
	if len(a.buckets) > maxFailBuckets {
		t.Errorf("%d rate-limit buckets, want at most %d", len(a.buckets), maxFailBuckets)
	}
}
