package oauth

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kith-dev/kith/internal/audit"
)

// Limits of the audit queue.
const (
	// maxPendingAudit bounds the issuances and refusals waiting for the
	// ledger. When it is reached, the token endpoint answers 503 until the
	// ledger catches up: no token is issued that is not recorded.
	maxPendingAudit = 100_000
	// maxJTIsPerEvent bounds the token IDs one coalesced event lists.
	maxJTIsPerEvent = 256
)

// auditKey is what coalesced events have in common: all but the token ID.
type auditKey struct {
	typ, action string
	outcome     audit.Outcome
	clientID    string
	entryID     string
	method      string
	credID      string
	grant       string
	scope       string
	audience    string
	binding     string
	acr         string
	reason      string
	source      string
	// trustLevel and trustScore are the client's trust when it was read
	// (level empty otherwise); trustNote what it changed.
	trustLevel string
	trustScore int
	trustNote  string
	seq        uint64 // 0 for the batch taking events; unique for set-aside ones
}

// auditBatch is a group of equal events.
type auditBatch struct {
	first, last time.Time
	count       int
	jtis        []string
	// durable counts the events whose requests wait for the batch to be
	// in the ledger; done, made for the first of them, is closed when it
	// is, or when writing it failed (err).
	durable int
	done    chan struct{}
	err     error
}

// auditQueue coalesces issuance and refusal events into ledger events:
// one stands for every equal event queued together, with their count,
// time span and token IDs, so that a flood of refusals cannot flood the
// ledger. Refusals are written by the flush of every AuditFlushInterval.
// An issuance waits until its event is in the ledger (addDurable): the
// first waiter starts a drain that flushes until no issuance waits, and
// issuances queued during one flush are written together by the next,
// so no token leaves the server unrecorded, even if it crashes.
type auditQueue struct {
	auditor recorder
	clock   func() time.Time
	logger  *slog.Logger

	// flushing serialises flushes, so that one returns only after every
	// event queued before it is written, including those a concurrent
	// flush had taken.
	flushing sync.Mutex

	mu      sync.Mutex
	pending map[auditKey]*auditBatch
	order   []auditKey
	n       int    // events pending in all batches
	seq     uint64 // last seq given to a set-aside batch
	waiting int    // events pending whose requests wait (addDurable)
	// draining is set while a drain goroutine runs.
	draining bool
}

// recorder is the part of [Auditor] the queue uses.
type recorder interface {
	Record(ctx context.Context, ev audit.Event) (int64, error)
}

func newAuditQueue(a recorder, clock func() time.Time, logger *slog.Logger) *auditQueue {
	return &auditQueue{auditor: a, clock: clock, logger: logger, pending: make(map[auditKey]*auditBatch)}
}

// errAuditBacklog refuses requests while the ledger lags.
var errAuditBacklog = &protocolError{code: codeTemporarily, desc: "the audit ledger is behind; retry later"}

// full reports whether the queue cannot take more events.
func (q *auditQueue) full() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n >= maxPendingAudit
}

// add queues one event with token ID jti (empty for a refusal). It
// returns errAuditBacklog when the queue is full.
func (q *auditQueue) add(k auditKey, jti string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, err := q.addLocked(k, jti)
	return err
}

// errAuditFailed refuses an issuance whose event the ledger did not take.
var errAuditFailed = &protocolError{code: codeTemporarily, desc: "the audit ledger could not record the issuance; retry later"}

// addDurable queues one event with token ID jti and returns once it is
// in the ledger, errAuditFailed if writing it failed, errAuditBacklog if
// the queue is full, or ctx's error. The token must not be handed out
// unless it returns nil.
func (q *auditQueue) addDurable(ctx context.Context, k auditKey, jti string) error {
	q.mu.Lock()
	b, err := q.addLocked(k, jti)
	if err != nil {
		q.mu.Unlock()
		return err
	}
	if b.done == nil {
		b.done = make(chan struct{})
	}
	b.durable++
	q.waiting++
	if !q.draining {
		q.draining = true
		go q.drain()
	}
	done := b.done
	q.mu.Unlock()
	select {
	case <-done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// addLocked adds one event to the batch of k and returns the batch.
// Callers hold q.mu.
func (q *auditQueue) addLocked(k auditKey, jti string) (*auditBatch, error) {
	if q.n >= maxPendingAudit {
		return nil, errAuditBacklog
	}
	now := q.clock()
	b := q.pending[k]
	if b == nil || len(b.jtis) >= maxJTIsPerEvent {
		if b != nil {
			// Set the full batch aside under a unique key; a new one takes
			// its place.
			q.setAside(k, b)
		}
		b = &auditBatch{first: now}
		q.pending[k] = b
		q.order = append(q.order, k)
	}
	b.count++
	b.last = now
	if jti != "" {
		b.jtis = append(b.jtis, jti)
	}
	q.n++
	return b, nil
}

// drain flushes until no request waits for its event.
func (q *auditQueue) drain() {
	for {
		if err := q.flush(context.Background()); err != nil {
			q.logger.Error("oauth: audit", "error", err)
		}
		q.mu.Lock()
		if q.waiting == 0 {
			q.draining = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
	}
}

// auditWriters is how many events flush hands to the ledger at once; the
// ledger commits concurrent events together.
const auditWriters = 1024

// flush writes every queued batch to the ledger, several at a time, so
// their order in the ledger follows their times only roughly, and
// completes the requests waiting for them. Batches it could not write
// stay queued, ahead of newer ones, unless requests wait for them (their
// tokens are refused instead), and flush returns the Auditor's first
// error.
func (q *auditQueue) flush(ctx context.Context) error {
	q.flushing.Lock()
	defer q.flushing.Unlock()
	q.mu.Lock()
	order, pending := q.order, q.pending
	q.order, q.pending = nil, make(map[auditKey]*auditBatch)
	q.mu.Unlock()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failed   = map[auditKey]bool{}
		firstErr error
		sem      = make(chan struct{}, auditWriters)
	)
	for _, k := range order {
		b := pending[k]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := q.auditor.Record(ctx, k.event(b))
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("oauth: record %s: %w", k.typ, err)
				}
				mu.Unlock()
				if b.done == nil {
					mu.Lock()
					failed[k] = true
					mu.Unlock()
					return
				}
				b.err = errAuditFailed
			}
			q.mu.Lock()
			q.n -= b.count
			q.waiting -= b.durable
			q.mu.Unlock()
			if b.done != nil {
				close(b.done)
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		var unwritten []auditKey
		for _, k := range order {
			if failed[k] {
				unwritten = append(unwritten, k)
			}
		}
		q.requeue(unwritten, pending)
	}
	return firstErr
}

// setAside moves the batch under key k (whose seq is 0) to a unique key,
// keeping its place in the order. Callers hold q.mu.
func (q *auditQueue) setAside(k auditKey, b *auditBatch) {
	q.seq++
	k2 := k
	k2.seq = q.seq
	delete(q.pending, k)
	q.pending[k2] = b
	for i := range q.order {
		if q.order[i] == k {
			q.order[i] = k2
		}
	}
}

// requeue puts unwritten batches back in front of those queued since,
// under unique keys.
func (q *auditQueue) requeue(order []auditKey, pending map[auditKey]*auditBatch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	merged := make([]auditKey, 0, len(order)+len(q.order))
	for _, k := range order {
		b := pending[k]
		if k.seq == 0 {
			q.seq++
			k.seq = q.seq
		}
		q.pending[k] = b
		merged = append(merged, k)
	}
	q.order = append(merged, q.order...)
}

// event builds the ledger event of a batch.
func (k auditKey) event(b *auditBatch) audit.Event {
	reason := k.reason
	d := map[string]string{}
	set := func(name, v string) {
		if v != "" {
			d[name] = v
		}
	}
	set("entry_id", k.entryID)
	set("auth_method", k.method)
	set("grant_type", k.grant)
	set("scope", k.scope)
	set("audience", k.audience)
	set("binding", k.binding)
	set("acr", k.acr)
	set("jti", strings.Join(b.jtis, " "))
	if b.count > 1 {
		d["count"] = strconv.Itoa(b.count)
		d["last"] = b.last.UTC().Format(time.RFC3339Nano)
	}
	k.trustDetails(d)
	ev := audit.Event{
		Time: b.first, Type: k.typ, Action: k.action, Outcome: k.outcome, Reason: reason,
		Actor:   audit.Actor{Kind: "client", ID: k.clientID, CredentialID: k.credID, CredentialType: k.method, RemoteAddr: k.source},
		Target:  k.entryID,
		Details: d,
	}
	if k.trustLevel != "" {
		ev.Trust = &audit.Trust{Score: k.trustScore}
	}
	return ev
}

// record is for the rare events that are written at once, such as a
// revocation: the action is not complete until the ledger has it.
func (q *auditQueue) record(ctx context.Context, ev audit.Event) error {
	if _, err := q.auditor.Record(ctx, ev); err != nil {
		return fmt.Errorf("oauth: record %s: %w", ev.Type, err)
	}
	return nil
}
