package server

import (
	"context"
	"math"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kith-dev/kith/internal/audit"
)

// Failed admin logins are recorded without letting a flood of them flood
// the append-only ledger: the first failure of a source (and reason) in a
// window is recorded as it happens, and the repeats within the window
// become one event at its end, whose "count" detail says how many
// requests it stands for. Every failure is counted in
// kith_admin_auth_failures_total. A source that keeps failing is answered
// 429 with Retry-After, but only after its request failed to
// authenticate: a correct admin token is never refused for the failures
// of others behind the same address.

// Defaults of the failed-login limits.
const (
	// DefaultAdminFailureRate is the failed admin logins per second a
	// source may keep up before it is answered 429.
	DefaultAdminFailureRate = 10
	// DefaultAdminAuditWindow is how long repeated failed logins of one
	// source are gathered into one ledger event.
	DefaultAdminAuditWindow = 10 * time.Second
)

// Bounds on the memory of the failed-login bookkeeping.
const (
	// maxFailSources bounds the sources (and reasons) whose failures a
	// window gathers apart; failures of further sources are gathered
	// into one event for all of them, so at most maxFailSources+2 events
	// are written per window whatever the number of sources.
	maxFailSources = 256
	// maxFailBuckets bounds the rate limiter's sources. When it is full,
	// idle sources are dropped; if none is, every source is forgiven
	// rather than the map growing without bound.
	maxFailBuckets = 10_000
	// maxClaimedIDs bounds the distinct credential IDs an event lists.
	maxClaimedIDs = 8
)

// failKey groups failed logins: by source and reason.
type failKey struct {
	source string // "" for the sources beyond maxFailSources
	reason string
}

// failBatch is the failed logins of one key in the current window that
// were not recorded at once.
type failBatch struct {
	first, last time.Time
	count       int
	limited     int // of count, those answered 429
	target      string
	requestID   string
	remoteAddr  string
	ids         []string // distinct claimed credential IDs, at most maxClaimedIDs
	idsOmitted  int
}

// authFailures coalesces and rate-limits failed admin logins.
type authFailures struct {
	rate  float64 // failures per second a source may keep up
	burst float64

	mu sync.Mutex
	// seen holds the keys of the current window, with their repeats (nil
	// while a key has had only its first, recorded, failure).
	seen    map[failKey]*failBatch
	buckets map[string]*bucket
}

// bucket is a token bucket of failures: tokens available at time last.
type bucket struct {
	tokens float64
	last   time.Time
}

func newAuthFailures(rate float64, burst int) *authFailures {
	return &authFailures{rate: rate, burst: float64(burst),
		seen: make(map[failKey]*failBatch), buckets: make(map[string]*bucket)}
}

// failure is one failed login.
type failure struct {
	source, reason string
	claimedID      string // the credential ID of a well-formed token; never its secret
	target         string
	requestID      string
	remoteAddr     string
	now            time.Time
}

// note counts one failure. It reports whether the failure is the first of
// its key in the window, to be recorded at once, and, when the source is
// over its budget, how long until it has one again (zero otherwise).
func (a *authFailures) note(f failure) (first bool, retry time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	retry = a.take(f.source, f.now)
	k := failKey{source: f.source, reason: f.reason}
	b, ok := a.seen[k]
	if !ok && len(a.seen) >= maxFailSources {
		k.source = ""
		b, ok = a.seen[k]
	}
	if !ok && k.source != "" {
		a.seen[k] = nil // the first failure is recorded by the caller
		return true, retry
	}
	if b == nil {
		b = &failBatch{first: f.now, target: f.target, requestID: f.requestID, remoteAddr: f.remoteAddr}
		if k.source == "" {
			b.remoteAddr = ""
		}
		a.seen[k] = b
	}
	b.count++
	b.last = f.now
	if retry > 0 {
		b.limited++
	}
	if f.claimedID != "" && !containsString(b.ids, f.claimedID) {
		if len(b.ids) < maxClaimedIDs {
			b.ids = append(b.ids, f.claimedID)
		} else {
			b.idsOmitted++
		}
	}
	return false, retry
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// take takes a token from source's bucket and returns zero, or, when the
// bucket is empty, how long until it holds one. Callers hold a.mu.
func (a *authFailures) take(source string, now time.Time) time.Duration {
	b := a.buckets[source]
	if b == nil {
		if len(a.buckets) >= maxFailBuckets {
			a.sweepLocked(now)
			if len(a.buckets) >= maxFailBuckets {
				a.buckets = make(map[string]*bucket)
			}
		}
		b = &bucket{tokens: a.burst, last: now}
		a.buckets[source] = b
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(a.burst, b.tokens+d.Seconds()*a.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	if a.rate <= 0 {
		return time.Hour
	}
	return time.Duration((1 - b.tokens) / a.rate * float64(time.Second))
}

// sweepLocked drops the buckets that have refilled: their sources are
// idle. Callers hold a.mu.
func (a *authFailures) sweepLocked(now time.Time) {
	for k, b := range a.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*a.rate >= a.burst {
			delete(a.buckets, k)
		}
	}
}

// endWindow starts a new window and returns the events that stand for the
// repeated failures of the one that ended, in a stable order. It also
// drops idle rate-limit buckets.
func (a *authFailures) endWindow(now time.Time) []audit.Event {
	a.mu.Lock()
	seen := a.seen
	a.seen = make(map[failKey]*failBatch, len(seen))
	a.sweepLocked(now)
	a.mu.Unlock()
	keys := make([]failKey, 0, len(seen))
	for k, b := range seen {
		if b != nil {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].source != keys[j].source {
			return keys[i].source < keys[j].source
		}
		return keys[i].reason < keys[j].reason
	})
	evs := make([]audit.Event, 0, len(keys))
	for _, k := range keys {
		evs = append(evs, seen[k].event(k))
	}
	return evs
}

// event is the ledger event of the repeats gathered under k.
func (b *failBatch) event(k failKey) audit.Event {
	d := map[string]string{
		"count": strconv.Itoa(b.count),
		"last":  b.last.UTC().Format(time.RFC3339Nano),
	}
	if k.source == "" {
		d["source"] = "other sources (more than " + strconv.Itoa(maxFailSources) + " in the window)"
	} else {
		d["source"] = k.source
	}
	if b.limited > 0 {
		d["rate_limited"] = strconv.Itoa(b.limited)
	}
	if len(b.ids) > 0 {
		d["credential_ids"] = strings.Join(b.ids, " ")
	}
	if b.idsOmitted > 0 {
		d["credential_ids_omitted"] = strconv.Itoa(b.idsOmitted)
	}
	return audit.Event{
		Time: b.first, Type: audit.TypeAdminAuthFailed, Action: "authenticate", Outcome: audit.OutcomeDenied,
		Reason:    k.reason + " (repeated)",
		Actor:     audit.Actor{Kind: "admin", CredentialType: "admin_token", RemoteAddr: b.remoteAddr},
		Target:    b.target,
		RequestID: b.requestID,
		Details:   d,
	}
}

// runAuthFailures writes the coalesced failed logins at the end of every
// window until ctx is done, then once more, so that a clean shutdown
// loses none.
func (s *Server) runAuthFailures(ctx context.Context) error {
	t := time.NewTicker(s.cfg.AdminAuditWindow)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.flushAuthFailures(context.WithoutCancel(ctx))
			return nil
		case <-t.C:
			s.flushAuthFailures(ctx)
		}
	}
}

// flushAuthFailures ends the window and records its coalesced events.
func (s *Server) flushAuthFailures(ctx context.Context) {
	evs := s.authFails.endWindow(s.clock())
	if len(evs) == 0 {
		return
	}
	if _, err := s.ledger.RecordAll(ctx, evs); err != nil {
		s.logger.Error("record failed admin logins", "events", len(evs), "error", err)
	}
}

// sourceKey returns the key a request's failures are counted under: its
// IP address, or its /64 for IPv6, where one host may hold a whole
// prefix.
func sourceKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
