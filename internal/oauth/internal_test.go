package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kith-dev/kith/internal/audit"
)

func TestClaimsJSONMatchesEncodingJSON(t *testing.T) {
	tests := []accessClaims{
		{Issuer: "https://kith.test", Subject: "spiffe://kith.test/a", Audience: audience{"x"}, Expiry: 2, IssuedAt: 1, JTI: "j", ClientID: "c"},
		{Issuer: "i", Subject: "s", Audience: audience{"a", "b"}, Expiry: 1 << 40, IssuedAt: -1, JTI: "j", ClientID: "c",
			Scope: "a b", ACR: ACRSVID, Cnf: &confirmation{X5T: "x", JKT: "k"},
			Act: &actor{Subject: "s1", ClientID: "c1", Act: &actor{Subject: "s2"}}},
		{Issuer: "\"quoted\" \\ </script> & \u2028", Subject: "ü\x01\xff", Audience: audience{"\t"}, JTI: "j", ClientID: "c",
			Cnf: &confirmation{JKT: "k"}},
	}
	for i, c := range tests {
		got := c.appendJSON(nil)
		var back accessClaims
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("case %d: %s does not parse: %v", i, got, err)
		}
		want := c
		if string(want.Subject) == "ü\x01\xff" {
			want.Subject = "ü\x01\ufffd"
		}
		if d := cmp.Diff(want, back); d != "" {
			t.Errorf("case %d: round trip mismatch (-want +got):\n%s", i, d)
		}
		// Single audiences travel as a string, like encoding/json of a
		// string field would write them.
		if len(c.Audience) == 1 {
			var raw map[string]json.RawMessage
			json.Unmarshal(got, &raw)
			if raw["aud"][0] != '"' {
				t.Errorf("case %d: aud %s, want a string", i, raw["aud"])
			}
		}
	}
}

// failingAuditor fails until told otherwise.
type failingAuditor struct {
	mu     sync.Mutex
	fail   bool
	events []audit.Event
}

func (a *failingAuditor) Record(_ context.Context, ev audit.Event) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return 0, errors.New("ledger down")
	}
	a.events = append(a.events, ev)
	return 0, nil
}

func TestAuditQueueCoalesces(t *testing.T) {
	a := &failingAuditor{}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	q := newAuditQueue(a, func() time.Time { return now }, nil)
	k := auditKey{typ: audit.TypeOAuthTokenIssued, action: "issue", outcome: audit.OutcomeSuccess, clientID: "c1", scope: "s"}
	for i := range maxJTIsPerEvent + 10 {
		if err := q.add(k, "jti"+string(rune('a'+i%26))); err != nil {
			t.Fatal(err)
		}
	}
	other := k
	other.clientID = "c2"
	q.add(other, "x")

	a.fail = true
	if err := q.flush(t.Context()); err == nil {
		t.Fatal("flush succeeded with a failing ledger")
	}
	q.add(k, "late") // queued while the ledger is down
	a.fail = false
	if err := q.flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	var counts []string
	total := 0
	for _, ev := range a.events {
		counts = append(counts, ev.Actor.ID+":"+ev.Details["count"])
		n := 1
		if c := ev.Details["count"]; c != "" {
			json.Unmarshal([]byte(c), &n)
		}
		total += n
	}
	slices.Sort(counts)
	want := []string{"c1:", "c1:10", "c1:256", "c2:"}
	if d := cmp.Diff(want, counts); d != "" {
		t.Errorf("events (client:count) mismatch (-want +got):\n%s", d)
	}
	if total != maxJTIsPerEvent+12 {
		t.Errorf("events stand for %d issuances, want %d", total, maxJTIsPerEvent+12)
	}
	if q.n != 0 {
		t.Errorf("%d events still pending", q.n)
	}
}

func TestAuditQueueBacklogRefuses(t *testing.T) {
	a := &failingAuditor{fail: true}
	q := newAuditQueue(a, time.Now, nil)
	for i := range maxPendingAudit {
		if err := q.add(auditKey{typ: audit.TypeOAuthTokenIssued, clientID: "c"}, ""); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	if !q.full() {
		t.Error("full() is false at the limit")
	}
	if err := q.add(auditKey{typ: audit.TypeOAuthTokenIssued}, ""); !errors.Is(err, errAuditBacklog) {
		t.Errorf("add beyond the limit: %v, want errAuditBacklog", err)
	}
}

// TestAuditQueueDurable checks that addDurable returns only once its
// event is in the ledger, that concurrent issuances are written together
// as coalesced events, and that a ledger failure refuses the issuance
// and drops its event rather than keeping it queued.
func TestAuditQueueDurable(t *testing.T) {
	a := &failingAuditor{}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	q := newAuditQueue(a, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	k := auditKey{typ: audit.TypeOAuthTokenIssued, action: "issue", outcome: audit.OutcomeSuccess, clientID: "c1", scope: "s"}

	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := q.addDurable(t.Context(), k, fmt.Sprint("jti-", i)); err != nil {
				t.Errorf("addDurable %d: %v", i, err)
				return
			}
			// The event is in the ledger by now.
			a.mu.Lock()
			defer a.mu.Unlock()
			found := false
			for _, ev := range a.events {
				found = found || slices.Contains(strings.Fields(ev.Details["jti"]), fmt.Sprint("jti-", i))
			}
			if !found {
				t.Errorf("addDurable %d returned before its event was recorded", i)
			}
		})
	}
	wg.Wait()
	if n := len(a.events); n == 0 || n > 50 {
		t.Errorf("50 issuances written as %d events", n)
	}

	a.mu.Lock()
	a.fail = true
	a.mu.Unlock()
	if err := q.addDurable(t.Context(), k, "lost"); err != errAuditFailed {
		t.Errorf("addDurable with the ledger down = %v, want errAuditFailed", err)
	}
	q.mu.Lock()
	pending, waiting := q.n, q.waiting
	q.mu.Unlock()
	if pending != 0 || waiting != 0 {
		t.Errorf("after a failed issuance: %d events pending, %d waiting; want none", pending, waiting)
	}
}

func TestReplayCacheShares(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newReplayCache(6, 3)
	use := func(owner, key string, life time.Duration) error {
		t.Helper()
		first, err := c.firstUse(owner, key, now.Add(life), now)
		if err == nil && !first {
			return errors.New("seen")
		}
		return err
	}
	for i := range 3 {
		if err := use("a", fmt.Sprint(i), time.Minute); err != nil {
			t.Fatalf("a's identifier %d: %v", i, err)
		}
	}
	if err := use("a", "0", time.Minute); err == nil || err.Error() != "seen" {
		t.Errorf("a replayed: %v, want seen", err)
	}
	if err := use("b", "0", time.Minute); err != nil {
		t.Errorf("b's identifier equal to a's: %v", err)
	}
	var pe *protocolError
	if err := use("a", "3", time.Minute); !errors.As(err, &pe) || pe.retryAfter < time.Minute-time.Second {
		t.Errorf("a over its share: %v, want a 429 until its first identifier expires", err)
	}
	use("b", "1", 2*time.Minute)
	use("c", "0", time.Minute)
	if err := use("d", "0", time.Minute); err != errReplayFull {
		t.Errorf("cache full: %v, want errReplayFull", err)
	}
	now = now.Add(time.Minute)
	if err := use("a", "0", time.Minute); err != nil {
		t.Errorf("a's expired identifier used again: %v", err)
	}
	if err := use("d", "0", time.Minute); err != nil {
		t.Errorf("after expiry: %v", err)
	}
	c.sweep(now)
	if n := c.n.Load(); n != 3 { // a:0, b:1, d:0
		t.Errorf("%d identifiers after the sweep, want 3", n)
	}
}
