package server

import (
	"errors"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/oauth"
)

// Secret checks (POST /v1/clients/secret-check) are limited per replica:
// each answers which client holds a secret, so the route is an oracle
// even for an admin, and each writes a ledger event. A scan checks each
// distinct Kith secret it finds once.
const (
	secretCheckRate  = 10  // per second, kept up
	secretCheckBurst = 100 // at once
)

// limiter is one token bucket, safe for concurrent use.
type limiter struct {
	rate, burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// take takes a token at now, or reports how long until one is available.
func (l *limiter) take(now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.After(l.last) {
		l.tokens = math.Min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	if l.last.IsZero() || now.After(l.last) {
		l.last = now
	}
	if l.tokens >= 1 {
		l.tokens--
		return true, 0
	}
	return false, time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
}

// checkClientSecret is POST /v1/clients/secret-check: which client holds
// the secret in the body, is it live, and, when asked, revoke it. The
// token service records the leak (oauth.Service.ReportLeak); the secret
// is parsed into an oauth.Secret at once, which never prints.
func (s *Server) checkClientSecret(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	if ok, wait := s.oauth.secretChecks.take(s.clock()); !ok {
		return &problemError{status: http.StatusTooManyRequests, title: "Too Many Requests",
			detail: "too many secret checks; retry later", retryAfter: wait}
	}
	var in api.SecretCheck
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	sec, err := oauth.ParseSecret(in.Secret)
	if err != nil {
		return badRequest("secret", "not a Kith client secret (kith_sk_ and 49 letters and digits with a valid checksum)")
	}
	leak, err := s.oauth.svc.ReportLeak(r.Context(), actor, oauth.LeakReport{
		Secret: sec, Location: in.Location, Commit: in.Commit, Places: in.Places, Revoke: in.Revoke,
	})
	if errors.Is(err, oauth.ErrNotFound) {
		return writeJSON(w, http.StatusOK, api.SecretCheckResult{})
	}
	if err != nil {
		return clientError(err)
	}
	if s.trust != nil {
		s.trust.host.Wake() // the leak's event weighs on the entry's trust
	}
	return writeJSON(w, http.StatusOK, api.SecretCheckResult{Known: true, ClientID: string(leak.ClientID), EntryID: leak.EntryID,
		SPIFFEID: leak.SPIFFEID, SecretID: leak.SecretID, Live: leak.Live, Revoked: leak.Revoked})
}
