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
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/kith-dev/kith/internal/audit"
)

// Defaults of [WebhookConfig].
const (
	DefaultWebhookTimeout = 5 * time.Second
	DefaultAttempts       = 5
	DefaultQueue          = 1000
	DefaultBackoff        = time.Second
	MaxBackoff            = time.Minute
)

// WebhookConfig configures a [Webhook].
type WebhookConfig struct {
	// URL receives the deliveries: https, or http to a loopback address.
	// Required.
	URL string
	// Secret signs every delivery. Required.
	Secret *Secret
	// Timeout bounds one attempt; DefaultWebhookTimeout when zero.
	Timeout time.Duration
	// Attempts is how many times a delivery is tried; DefaultAttempts
	// when zero.
	Attempts int
	// Queue bounds the notifications waiting; a notification that finds
	// it full is dropped and counted (and the drops recorded). DefaultQueue
	// when zero.
	Queue int
	// Backoff is the delay before the first retry, doubled for each next
	// one up to MaxBackoff (or a longer Retry-After of the receiver, up to
	// MaxBackoff too); DefaultBackoff when zero.
	Backoff time.Duration
	// Auditor, if set, records deliveries that failed or were dropped
	// (audit.TypeRemediationNotifyFailed).
	Auditor Auditor
	// Client sends the requests; nil means a client that follows no
	// redirect (a redirect is a failure: the signed body goes only where
	// it was configured to).
	Client *http.Client
	// Clock gives the time deliveries are signed at; time.Now when nil.
	Clock func() time.Time
	// After waits between attempts; time.After when nil.
	After func(time.Duration) <-chan time.Time
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
}

// WebhookFrom returns the configuration of spec's webhook, with the
// secret read from its file (see [LoadSecret]).
func WebhookFrom(spec *WebhookSpec) (WebhookConfig, error) {
	s, err := LoadSecret(spec.SecretFile)
	if err != nil {
		return WebhookConfig{}, err
	}
	return WebhookConfig{URL: spec.URL, Secret: s, Timeout: spec.Timeout, Attempts: spec.Attempts, Queue: spec.Queue}, nil
}

// WebhookStats counts a Webhook's deliveries.
type WebhookStats struct {
	// Delivered were accepted with a 2xx answer; Failed were refused or
	// failed every attempt; Dropped found the queue full.
	Delivered, Failed, Dropped int64
}

// Webhook delivers notifications to people's endpoint: each is POSTed as
// JSON, signed ([Sign]), from one goroutine ([Webhook.Run]) in the order
// notified, retried with backoff on network errors, timeouts, 408, 425,
// 429 and 5xx answers. It implements [Notifier]; Notify never blocks.
type Webhook struct {
	cfg   WebhookConfig
	host  string // the URL's host, for the ledger (the URL may hold a token)
	queue chan Notification

	mu       sync.Mutex
	stats    WebhookStats
	recorded int64 // drops already recorded
}

// NewWebhook returns a Webhook for cfg. It returns an error for a missing
// or invalid URL or secret, or negative limits.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if err := checkWebhookURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("remediation: webhook URL: %w", err)
	}
	if cfg.Secret == nil {
		return nil, errors.New("remediation: webhook: Secret is required")
	}
	if cfg.Timeout < 0 || cfg.Attempts < 0 || cfg.Queue < 0 || cfg.Backoff < 0 {
		return nil, errors.New("remediation: webhook: limits must not be negative")
	}
	setDefault(&cfg.Timeout, DefaultWebhookTimeout)
	setDefault(&cfg.Backoff, DefaultBackoff)
	if cfg.Attempts == 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.Queue == 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	u, _ := url.Parse(cfg.URL)
	return &Webhook{cfg: cfg, host: u.Host, queue: make(chan Notification, cfg.Queue)}, nil
}

// Notify queues n for delivery; it never blocks. When the queue is full,
// n is dropped and counted.
func (w *Webhook) Notify(n Notification) {
	select {
	case w.queue <- n:
	default:
		w.mu.Lock()
		w.stats.Dropped++
		w.mu.Unlock()
	}
}

// Stats returns the Webhook's counters.
func (w *Webhook) Stats() WebhookStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Run delivers queued notifications until ctx is done, and returns nil
// then; notifications still queued are not delivered. Run must be called
// once.
func (w *Webhook) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-w.queue:
			w.deliver(ctx, n)
			w.recordDrops(ctx)
		}
	}
}

// deliver tries to deliver n until it is accepted, refused, or out of
// attempts, and records a failure.
func (w *Webhook) deliver(ctx context.Context, n Notification) {
	body, err := json.Marshal(n)
	if err != nil {
		w.fail(ctx, n, 0, fmt.Errorf("encode: %w", err))
		return
	}
	delay := w.cfg.Backoff
	for attempt := 1; ; attempt++ {
		retry, wait, err := w.attempt(ctx, n, body)
		if err == nil {
			w.mu.Lock()
			w.stats.Delivered++
			w.mu.Unlock()
			return
		}
		if ctx.Err() != nil {
			return
		}
		if !retry || attempt >= w.cfg.Attempts {
			w.fail(ctx, n, attempt, err)
			return
		}
		w.cfg.Logger.WarnContext(ctx, "remediation: webhook delivery failed; retrying", "delivery", n.ID, "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-w.cfg.After(min(max(delay, wait), MaxBackoff)):
		}
		delay = min(2*delay, MaxBackoff)
	}
}

// attempt makes one delivery attempt. It returns nil for a 2xx answer;
// otherwise whether to retry, the receiver's Retry-After, and why.
func (w *Webhook) attempt(ctx context.Context, n Notification, body []byte) (retry bool, wait time.Duration, err error) {
	actx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, 0, err
	}
	ts := strconv.FormatInt(w.cfg.Clock().Unix(), 10)
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "kith-remediation")
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, Sign(w.cfg.Secret, ts, body))
	h.Set(HeaderDelivery, n.ID)
	h.Set(HeaderEvent, n.Event.Type)
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return true, 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, 0, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooEarly || c == http.StatusTooManyRequests || c >= 500:
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		return true, wait, fmt.Errorf("answered %s", resp.Status)
	default:
		return false, 0, fmt.Errorf("answered %s", resp.Status)
	}
}

// fail counts and records a delivery that failed.
func (w *Webhook) fail(ctx context.Context, n Notification, attempts int, err error) {
	w.mu.Lock()
	w.stats.Failed++
	w.mu.Unlock()
	w.cfg.Logger.ErrorContext(ctx, "remediation: webhook delivery failed", "delivery", n.ID, "attempts", attempts, "error", err)
	w.record(ctx, audit.Event{
		Time: w.cfg.Clock(), Type: audit.TypeRemediationNotifyFailed, Actor: Actor(), Target: n.Event.Target,
		Action: "notify", Outcome: audit.OutcomeFailure,
		Reason: fmt.Sprintf("webhook delivery failed after %d attempts: %s", attempts, truncate(err.Error(), 300)),
		Details: map[string]string{"delivery": n.ID, "event_type": n.Event.Type, "webhook_host": w.host,
			"count": "1"},
	})
}

// recordDrops records the notifications dropped since the last record.
func (w *Webhook) recordDrops(ctx context.Context) {
	w.mu.Lock()
	n := w.stats.Dropped - w.recorded
	w.recorded = w.stats.Dropped
	w.mu.Unlock()
	if n == 0 {
		return
	}
	w.cfg.Logger.ErrorContext(ctx, "remediation: webhook queue full; notifications dropped", "count", n)
	w.record(ctx, audit.Event{
		Time: w.cfg.Clock(), Type: audit.TypeRemediationNotifyFailed, Actor: Actor(),
		Action: "notify", Outcome: audit.OutcomeFailure,
		Reason:  fmt.Sprintf("%d notifications dropped: the webhook queue was full", n),
		Details: map[string]string{"webhook_host": w.host, "count": strconv.FormatInt(n, 10)},
	})
}

func (w *Webhook) record(ctx context.Context, ev audit.Event) {
	if w.cfg.Auditor == nil {
		return
	}
	if _, err := w.cfg.Auditor.Record(ctx, ev); err != nil {
		w.cfg.Logger.ErrorContext(ctx, "remediation: record event", "type", ev.Type, "error", err)
	}
}
