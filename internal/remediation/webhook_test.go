package remediation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/trust"
)

var testSecret = mustSecret("0123456789abcdef-webhook-secret")

func mustSecret(s string) *Secret {
	k, err := NewSecret([]byte(s))
	if err != nil {
		panic(err)
	}
	return k
}

// receiver is a webhook endpoint that verifies each delivery and answers
// from a script of statuses (the last one repeats).
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	statuses []int
	header   http.Header // added to every answer
	got      []delivery
	changed  chan struct{}
}

type delivery struct {
	id, event string
	n         Notification
	verified  error
}

func newReceiver(t *testing.T, statuses ...int) (*receiver, *httptest.Server) {
	r := &receiver{t: t, statuses: statuses, changed: make(chan struct{})}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	d := delivery{id: req.Header.Get(HeaderDelivery), event: req.Header.Get(HeaderEvent),
		verified: Verify(testSecret, req.Header.Get(HeaderSignature), req.Header.Get(HeaderTimestamp), body, t0, 0)}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		d.verified = fmt.Errorf("method %s, content type %q", req.Method, req.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal(body, &d.n); err != nil {
		d.verified = err
	}
	r.mu.Lock()
	r.got = append(r.got, d)
	status := r.statuses[min(len(r.got), len(r.statuses))-1]
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
}

func (r *receiver) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// waits records the delays the webhook asked for, and waits none.
type waits struct {
	mu sync.Mutex
	ds []time.Duration
}

func (w *waits) After(d time.Duration) <-chan time.Time {
	w.mu.Lock()
	w.ds = append(w.ds, d)
	w.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.ds...)
}

func note(id string) Notification {
	return Notification{ID: id, Summary: "s", Event: audit.Event{Time: t0, Type: audit.TypeRemediationActed,
		Actor: Actor(), Target: caller, Action: "quarantine", Outcome: audit.OutcomeSuccess}}
}

// startWebhook runs a webhook to srv until the test ends.
func startWebhook(t *testing.T, srv *httptest.Server, mutate ...func(*WebhookConfig)) (*Webhook, *events, *waits) {
	t.Helper()
	ev, w := &events{}, &waits{}
	cfg := WebhookConfig{URL: srv.URL + "/hook?token=x", Secret: testSecret, Auditor: ev, After: w.After,
		Clock: func() time.Time { return t0 }}
	for _, m := range mutate {
		m(&cfg)
	}
	wh, err := NewWebhook(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { wh.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return wh, ev, w
}

func waitFor(t *testing.T, what string, changed func() <-chan struct{}, cond func() bool) {
	t.Helper()
	await.Until(t, what, 10*time.Second, changed, cond)
}

func TestWebhookDelivers(t *testing.T) {
	rc, srv := newReceiver(t, http.StatusNoContent)
	wh, ev, _ := startWebhook(t, srv)
	wh.Notify(note("n1"))
	waitFor(t, "a delivery", rc.Changed, func() bool { return len(rc.deliveries()) == 1 })
	d := rc.deliveries()[0]
	if d.verified != nil {
		t.Fatalf("delivery does not verify: %v", d.verified)
	}
	if d.id != "n1" || d.event != audit.TypeRemediationActed || d.n.Event.Target != caller || d.n.Summary != "s" {
		t.Errorf("delivery = %+v", d)
	}
	await.Poll(5*time.Second, func() bool { return wh.Stats().Delivered == 1 })
	if s := wh.Stats(); s != (WebhookStats{Delivered: 1}) {
		t.Errorf("stats = %+v", s)
	}
	if n := len(ev.all()); n != 0 {
		t.Errorf("%d events for a delivered notification, want 0", n)
	}
}

// TestWebhookRetries checks the retries: the same delivery ID, backoff
// doubling from Backoff, a longer Retry-After honoured, and a failure
// recorded once the attempts run out.
func TestWebhookRetries(t *testing.T) {
	rc, srv := newReceiver(t, 500, 503, 200)
	wh, _, w := startWebhook(t, srv, func(c *WebhookConfig) { c.Backoff = time.Second })
	wh.Notify(note("n1"))
	waitFor(t, "three attempts", rc.Changed, func() bool { return len(rc.deliveries()) == 3 })
	for _, d := range rc.deliveries() {
		if d.id != "n1" || d.verified != nil {
			t.Errorf("attempt = %+v", d)
		}
	}
	if d := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, w.all()); d != "" {
		t.Errorf("backoff mismatch (-want +got):\n%s", d)
	}

	rc2, srv2 := newReceiver(t, 429)
	rc2.header = http.Header{"Retry-After": {"7"}}
	wh2, ev2, w2 := startWebhook(t, srv2, func(c *WebhookConfig) { c.Attempts = 3 })
	wh2.Notify(note("n2"))
	waitFor(t, "the failure event", ev2.Changed, func() bool { return len(ev2.all()) == 1 })
	if n := len(rc2.deliveries()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if d := cmp.Diff([]time.Duration{7 * time.Second, 7 * time.Second}, w2.all()); d != "" {
		t.Errorf("Retry-After not honoured (-want +got):\n%s", d)
	}
	e := ev2.all()[0]
	if e.Type != audit.TypeRemediationNotifyFailed || e.Target != caller || e.Details["delivery"] != "n2" ||
		e.Details["webhook_host"] != strings.TrimPrefix(srv2.URL, "http://") || strings.Contains(fmt.Sprint(e), "token=x") {
		t.Errorf("failure event = %+v (must name the host, not the URL)", e)
	}
}

// TestWebhookPermanentFailure checks that a refusal (4xx) and a redirect
// are not retried.
func TestWebhookPermanentFailure(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusFound} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			rc, srv := newReceiver(t, status)
			rc.header = http.Header{"Location": {"https://elsewhere.example/"}}
			wh, ev, _ := startWebhook(t, srv)
			wh.Notify(note("n1"))
			waitFor(t, "the failure event", ev.Changed, func() bool { return len(ev.all()) == 1 })
			if n := len(rc.deliveries()); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
			if s := wh.Stats(); s.Failed != 1 {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

// TestWebhookQueueFull checks that Notify never blocks: with the queue
// full a notification is dropped, counted, and the drops recorded.
func TestWebhookQueueFull(t *testing.T) {
	rc, srv := newReceiver(t, 200)
	ev := &events{}
	wh, err := NewWebhook(WebhookConfig{URL: srv.URL, Secret: testSecret, Queue: 1, Auditor: ev, Clock: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		wh.Notify(note(fmt.Sprint(i)))
	}
	if s := wh.Stats(); s.Dropped != 2 {
		t.Fatalf("stats = %+v, want 2 dropped", s)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { wh.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the drop event", ev.Changed, func() bool { return len(ev.all()) == 1 })
	if e := ev.all()[0]; e.Details["count"] != "2" || e.Type != audit.TypeRemediationNotifyFailed {
		t.Errorf("drop event = %+v", e)
	}
	if d := rc.deliveries(); len(d) != 1 || d[0].id != "0" {
		t.Errorf("deliveries = %+v, want the first only", d)
	}
}

func TestNewWebhookRefuses(t *testing.T) {
	for _, cfg := range []WebhookConfig{
		{URL: "http://hooks.example.org/", Secret: testSecret},
		{URL: "ftp://127.0.0.1/", Secret: testSecret},
		{URL: "https://hooks.example.org/"},
		{URL: "https://hooks.example.org/", Secret: testSecret, Attempts: -1},
	} {
		if _, err := NewWebhook(cfg); err == nil {
			t.Errorf("NewWebhook(%+v) succeeded", cfg)
		}
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"n1"}`)
	ts := fmt.Sprint(t0.Unix())
	good := Sign(testSecret, ts, body)
	if err := Verify(testSecret, good, ts, body, t0.Add(time.Minute), 0); err != nil {
		t.Fatalf("Verify(good) = %v", err)
	}
	other := mustSecret("another-secret-of-16+")
	tests := []struct {
		name    string
		secret  *Secret
		sig, ts string
		body    []byte
		now     time.Time
	}{
		{"tampered body", testSecret, good, ts, []byte(`{"id":"n2"}`), t0},
		{"other secret", other, good, ts, body, t0},
		{"moved timestamp", testSecret, good, fmt.Sprint(t0.Unix() + 1), body, t0},
		{"stale", testSecret, good, ts, body, t0.Add(6 * time.Minute)},
		{"future", testSecret, good, ts, body, t0.Add(-6 * time.Minute)},
		{"no prefix", testSecret, strings.TrimPrefix(good, "sha256="), ts, body, t0},
		{"not hex", testSecret, "sha256=zz", ts, body, t0},
		{"bad timestamp", testSecret, good, "soon", body, t0},
	}
	for _, tc := range tests {
		if err := Verify(tc.secret, tc.sig, tc.ts, tc.body, tc.now, 0); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: Verify = %v, want ErrSignature", tc.name, err)
		}
	}
}

func TestSecretRedacted(t *testing.T) {
	var b bytes.Buffer
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "secret", testSecret)
	out := fmt.Sprintf("%v %+v %#v %s %q %x", testSecret, testSecret, testSecret, testSecret, testSecret, testSecret) + b.String()
	if strings.Contains(out, "webhook-secret") || strings.Contains(out, "30313233") || !strings.Contains(out, "Secret(redacted)") {
		t.Errorf("a secret printed as %q", out)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := os.WriteFile(path, []byte("0123456789abcdef-webhook-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("x")
	if Sign(s, "1", body) != Sign(testSecret, "1", body) {
		t.Error("LoadSecret did not trim the trailing newline")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSecret(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadSecret(0644) = %v, want a refusal", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "short"), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSecret(filepath.Join(dir, "short")); err == nil {
		t.Error("LoadSecret accepted a 5-byte secret")
	}
}

// TestRemediatorNotifiesWebhook ties the two together: a step reaches
// the receiver, signed, with the ledger event.
func TestRemediatorNotifiesWebhook(t *testing.T) {
	rc, srv := newReceiver(t, 200)
	wh, _, _ := startWebhook(t, srv)
	ev := &events{}
	r, err := New(Config{Ladders: []Ladder{ladder(Step{Level: trust.LevelLow, Action: ActionStepUp})}, Auditor: ev, Notifier: wh,
		Clock: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	r.Change(change(caller, 300))
	r.process(t.Context())
	waitFor(t, "a delivery", rc.Changed, func() bool { return len(rc.deliveries()) == 1 })
	d := rc.deliveries()[0]
	if d.verified != nil || d.n.Event.Action != "step_up" || d.n.Event.Details["ladder"] != "all" ||
		!strings.HasPrefix(d.n.Summary, caller+": reached the step_up rung") {
		t.Errorf("delivery = %+v", d)
	}
}
