package trust

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// warmed returns an engine that has learned w for three days and the
// time the history ends (10:00 on the fourth day). It fails t if the
// history raised signals.
func warmed(t *testing.T, w *workload, tune func(*Tuning)) (*Engine, *recorder, time.Time) {
	t.Helper()
	e, rec, _ := newEngine(t, tune)
	end := t0.Add(days(3) + 10*time.Hour)
	w.run(t0, end, observeAll(e))
	if len(rec.signals) > 0 {
		t.Fatalf("signals on the benign history:%s", rec.summary())
	}
	return e, rec, end
}

// attack emits n calls from gen(k) merged in time order with w's
// ordinary traffic from start until the last attack call, and returns
// how many attack calls were observed when the first signal of a kind in
// kinds was raised, and that signal (nil if none was).
func attack(e *Engine, rec *recorder, w *workload, start time.Time, count int, gen func(k int) Call, kinds ...Kind) (n int, first *Signal) {
	requests := 0
	var calls []Call
	for k := range count {
		calls = append(calls, gen(k))
	}
	end := calls[len(calls)-1].Time
	isAttack := len(calls)
	w.run(start, end, func(c *Call) { calls = append(calls, *c) })
	// remember which calls are the attack's by their index before sorting
	type tagged struct {
		c      Call
		attack bool
	}
	all := make([]tagged, len(calls))
	for i := range calls {
		all[i] = tagged{calls[i], i < isAttack}
	}
	sortTagged(all, func(a, b tagged) int { return a.c.Time.Compare(b.c.Time) })
	before := len(rec.signals)
	for i := range all {
		if all[i].attack {
			requests++
		}
		e.Observe(&all[i].c)
		for j := before; j < len(rec.signals) && first == nil; j++ {
			if slices.Contains(kinds, rec.signals[j].Kind) {
				s := rec.signals[j]
				first, n = &s, requests
			}
		}
	}
	return n, first
}

// TestEndpointEnumeration: walking routes the caller never used is
// endpoint.new within a few requests (and errors.burst soon after).
func TestEndpointEnumeration(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	e, rec, start := warmed(t, w, nil)
	words := []string{"admin", "users", "export", "config", "debug", "internal", "keys", "backup", "metrics", "accounts", "tokens", "secrets"}
	n, s := attack(e, rec, w, start, 24, func(k int) Call {
		c := w.call(start.Add(time.Duration(k)*500*time.Millisecond), 0, 0)
		c.Route, c.Path, c.Status = "", fmt.Sprintf("/v1/%s/%d", words[k%len(words)], k/len(words)), 404
		return c
	}, EndpointNew)
	if s == nil || n > 5 {
		t.Fatalf("endpoint.new after %d requests (%v); signals:%s", n, s, rec.summary())
	}
	if got := rec.of(ErrorsBurst); len(got) != 1 {
		t.Errorf("want one errors.burst, got:%s", rec.summary())
	}
}

// TestEndpointDeploy: a deploy that adds a route policy allows, used
// heavily from then on, and another the day after, raise nothing.
func TestEndpointDeploy(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	e, rec, start := warmed(t, w, func(tu *Tuning) {})
	w.routes = append(w.routes, route{"spiffe://example.org/orders", "GET", "/v2/orders/{id}", 1800, []int{2, 0}})
	w.routes[0].next = append(w.routes[0].next, 6, 6)
	w.run(start, start.Add(days(1)), observeAll(e))
	w.routes = append(w.routes, route{"spiffe://example.org/payments", "PUT", "/v2/payments/{id}/capture", 300, []int{0}})
	w.routes[1].next = append(w.routes[1].next, 7)
	w.run(start.Add(days(1)), start.Add(days(2)), observeAll(e))
	if len(rec.signals) > 0 {
		t.Errorf("signals after a deploy that adds allowed routes:%s", rec.summary())
	}
}

// TestEndpointPolicyWeight: new routes policy denies weigh more than
// allowed ones: two denied new routes fire, where two allowed do not.
func TestEndpointPolicyWeight(t *testing.T) {
	for _, tc := range []struct {
		allow Allowance
		fire  bool
	}{{Allowed, false}, {Denied, true}} {
		t.Run(fmt.Sprint(tc.allow), func(t *testing.T) {
			w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
			e, rec, _ := newEngine(t, nil)
			e.cfg.RouteAllowed = func(caller, target, method, route string) Allowance {
				if route == "/v1/refunds/{id}" || route == "/v1/payouts" {
					return tc.allow
				}
				return Allowed
			}
			start := t0.Add(days(3) + 10*time.Hour)
			w.run(t0, start, observeAll(e))
			for k, r := range []string{"/v1/refunds/{id}", "/v1/payouts"} {
				c := w.call(start.Add(time.Duration(k)*time.Minute), 0, 2)
				c.Route, c.Decision = r, "deny"
				c.Status = 403
				if tc.allow == Allowed {
					c.Decision, c.Status = "allow", 200
				}
				e.Observe(&c)
			}
			if got := len(rec.of(EndpointNew)) > 0; got != tc.fire {
				t.Errorf("endpoint.new raised: %v, want %v; signals:%s", got, tc.fire, rec.summary())
			}
		})
	}
}

// TestSequenceAbuse: a caller whose sessions go orders → order →
// payment, suddenly looping between two routes it knows in an order it
// never used, raises sequence.surprise within ten of those calls, with
// its ordinary traffic going on.
func TestSequenceAbuse(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	e, rec, start := warmed(t, w, nil)
	loop := []int{3, 2} // PATCH order, POST payment: never 3→2 nor 2→3
	n, s := attack(e, rec, w, start, 40, func(k int) Call {
		return w.call(start.Add(time.Duration(k)*time.Second), 0, loop[k%2])
	}, SequenceSurprise)
	if s == nil || n > 10 {
		t.Fatalf("sequence.surprise after %d requests (%v); signals:%s", n, s, rec.summary())
	}
}

// TestExfiltration: responses of tens of megabytes where the route
// answers kilobytes are volume.exfiltration at the first.
func TestExfiltration(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	e, rec, start := warmed(t, w, nil)
	n, s := attack(e, rec, w, start, 10, func(k int) Call {
		c := w.call(start.Add(time.Duration(k)*3*time.Second), 0, 1)
		c.RespBytes = 50 << 20
		return c
	}, VolumeExfiltration)
	if s == nil || n > 2 {
		t.Fatalf("volume.exfiltration after %d requests (%v); signals:%s", n, s, rec.summary())
	}
}

// TestExfiltrationPerCall: a few responses of 16 times a route's usual
// size, too small to stand out in ten seconds of a busy caller, are
// volume.exfiltration at the second.
func TestExfiltrationPerCall(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 3, 3)
	e, rec, start := warmed(t, w, nil)
	n, s := attack(e, rec, w, start, 5, func(k int) Call {
		c := w.call(start.Add(time.Duration(k)*20*time.Second), 0, 1)
		c.RespBytes = 600 << 10
		return c
	}, VolumeExfiltration)
	if s == nil || n > 2 {
		t.Fatalf("volume.exfiltration after %d requests (%v); signals:%s", n, s, rec.summary())
	}
}

// TestLargeResponsesBenign: a route whose answers are large and vary a
// lot (a report) raises nothing.
func TestLargeResponsesBenign(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	w.routes[5].bytes = 5 << 20
	w.routes[0].next = append(w.routes[0].next, 5)
	e, rec, start := warmed(t, w, nil)
	w.run(start, start.Add(days(1)), observeAll(e))
	if len(rec.signals) > 0 {
		t.Errorf("signals on a caller with large responses:%s", rec.summary())
	}
}

// TestLowAndSlow: a scraper with the caller's credential, on its
// network, paging through a list route at half the caller's usual rate
// on top of it, is found within the first hours.
func TestLowAndSlow(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 2)
	e, rec, start := warmed(t, w, nil)
	n, s := attack(e, rec, w, start, 3*3600/4, func(k int) Call {
		c := w.call(start.Add(time.Duration(k)*4*time.Second), k%3, 0)
		c.Path = fmt.Sprintf("/v1/orders?page=%d", k)
		return c
	}, VolumeLowAndSlow, RateSustained)
	if s == nil {
		t.Fatalf("no low-and-slow finding; signals:%s", rec.summary())
	}
	if d := s.Time.Sub(start); d > 90*time.Minute {
		t.Errorf("found after %v (%d requests), want within 90m", d, n)
	}
	t.Logf("found after %v, %d requests: %s", s.Time.Sub(start), n, s.Evidence["seen"])
}

// TestTokenReplayNewNetwork: a credential of the caller used from a
// public network, after three days on one private /24, is
// source.new_network (high) at the first call and source.concurrent.
func TestTokenReplayNewNetwork(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	e, rec, start := warmed(t, w, nil)
	n, s := attack(e, rec, w, start, 20, func(k int) Call {
		c := w.call(start.Add(time.Duration(k)*2*time.Second), 0, k%2)
		c.Source = netip.MustParseAddr("203.0.113.7")
		return c
	}, SourceNewNetwork)
	if s == nil || n != 1 || s.Severity != High {
		t.Fatalf("source.new_network after %d requests (%v); signals:%s", n, s, rec.summary())
	}
	if s.Evidence["network"] != "203.0.113.0/24" {
		t.Errorf("evidence network = %q", s.Evidence["network"])
	}
	if len(rec.of(SourceConcurrent)) != 1 {
		t.Errorf("want one source.concurrent; signals:%s", rec.summary())
	}
}

// TestCredentialTwoHosts: one credential used from two hosts of the
// caller's own network at the same time is source.concurrent.
func TestCredentialTwoHosts(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	e, rec, start := warmed(t, w, nil)
	n, s := attack(e, rec, w, start, 20, func(k int) Call {
		c := w.call(start.Add(time.Duration(k)*5*time.Second), 1, k%2)
		c.Source = w.host(77)
		return c
	}, SourceConcurrent)
	if s == nil || n > 10 {
		t.Fatalf("source.concurrent after %d requests (%v); signals:%s", n, s, rec.summary())
	}
	if len(rec.of(SourceNewNetwork)) != 0 {
		t.Errorf("source.new_network for a host of a known network:%s", rec.summary())
	}
}

// TestSourceBenign: a caller that moves to a new /24 every eight hours
// (autoscaling) never looks stable, so it raises no new-network signal;
// a caller whose instances share one credential (a client secret) from
// its first day raises no concurrency signal.
func TestSourceBenign(t *testing.T) {
	t.Run("autoscaling", func(t *testing.T) {
		w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
		e, rec, _ := newEngine(t, nil)
		for k := range 15 {
			w.net[2] = byte(100 + k)
			from := t0.Add(time.Duration(k) * 8 * time.Hour)
			w.run(from, from.Add(8*time.Hour), observeAll(e))
		}
		if len(rec.signals) > 0 {
			t.Errorf("signals on an autoscaling caller:%s", rec.summary())
		}
	})
	t.Run("shared credential", func(t *testing.T) {
		w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
		w.sharedCred, w.credType = true, "client_secret"
		e, rec, _ := newEngine(t, nil)
		w.run(t0, t0.Add(days(5)), observeAll(e))
		if len(rec.signals) > 0 {
			t.Errorf("signals on a caller with a shared credential:%s", rec.summary())
		}
	})
}

// TestErrorsBurst: a burst of denials is errors.burst within a few
// requests for a caller that rarely gets errors, within a few more for
// one that gets a 404 in five calls (which alone raise nothing).
func TestErrorsBurst(t *testing.T) {
	for _, tc := range []struct {
		errRate float64
		within  int
	}{{0.005, 10}, {0.2, 30}} {
		t.Run(fmt.Sprint(tc.errRate), func(t *testing.T) {
			w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
			w.errRate = tc.errRate
			e, rec, start := warmed(t, w, nil)
			n, s := attack(e, rec, w, start, 60, func(k int) Call {
				c := w.call(start.Add(time.Duration(k)*time.Second/2), 0, 4)
				c.Status, c.Decision = 403, "deny"
				return c
			}, ErrorsBurst)
			if s == nil || n > tc.within {
				t.Fatalf("errors.burst after %d requests (%v); signals:%s", n, s, rec.summary())
			}
		})
	}
}

// TestRemediationIsNotProbing: the step-up challenges (401) and
// quarantine refusals that remediation answers raise no errors.burst:
// the engine must not feed on its own verdicts.
func TestRemediationIsNotProbing(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	e, rec, start := warmed(t, w, nil)
	_, s := attack(e, rec, w, start, 60, func(k int) Call {
		c := w.call(start.Add(time.Duration(k)*time.Second/2), 0, 4)
		c.Status, c.Decision = 401, "step_up"
		if k%2 == 1 {
			c.Status, c.Decision = 403, "quarantine"
		}
		return c
	}, ErrorsBurst)
	if s != nil {
		t.Errorf("remediation raised %v", s)
	}
}

// TestFanout: one new dependency after a deploy is not lateral movement;
// calls to services never called before, which policy denies, are.
func TestFanout(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	e, rec, start := warmed(t, w, nil)
	w.routes = append(w.routes, route{"spiffe://example.org/inventory", "GET", "/v1/stock/{id}", 500, []int{0}})
	w.routes[1].next = append(w.routes[1].next, 6)
	w.run(start, start.Add(days(1)), observeAll(e))
	if len(rec.signals) > 0 {
		t.Fatalf("signals after a new allowed dependency:%s", rec.summary())
	}
	start = start.Add(days(1))
	targets := []string{"db-admin", "vault", "hr", "ledger", "billing-internal"}
	n, s := attack(e, rec, w, start, len(targets), func(k int) Call {
		c := w.call(start.Add(time.Duration(k)*10*time.Second), 0, 0)
		c.Target, c.Route, c.Path = "spiffe://example.org/"+targets[k], "/", "/"
		c.Status, c.Decision = 403, "deny"
		return c
	}, FanoutNewTargets)
	if s == nil || n > 2 {
		t.Fatalf("fanout.new_targets after %d requests (%v); signals:%s", n, s, rec.summary())
	}
}

// TestEndpointAdaptive: a caller whose paths hold names the engine cannot
// tell from routes (/v1/users/alice), so that nearly every call is a new
// "route" from its first day, raises its own bar: no endpoint.new.
func TestEndpointAdaptive(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.2, 4)
	w.withRoute = false
	e, rec, _ := newEngine(t, nil)
	names := "abcdefghijklmnopqrstuvwxyz"
	w.run(t0, t0.Add(days(4)), func(c *Call) {
		if c.Method == "GET" && strings.HasPrefix(c.Path, "/v1/orders/") {
			n := w.rng.IntN(1 << 20)
			c.Path = "/v1/users/" + string([]byte{names[n%26], names[n/26%26], names[n/676%26], names[n/17576%26]})
		}
		e.Observe(c)
	})
	if got := rec.of(EndpointNew); len(got) > 0 {
		t.Errorf("endpoint.new on a caller whose paths are mostly new:%s", rec.summary())
	}
}
