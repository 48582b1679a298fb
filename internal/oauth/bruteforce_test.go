package oauth_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
)

// TestOthersFailuresDoNotLockOutAClient runs a process that keeps sending
// bad secrets for bob from the address alice's workloads share with it (a
// node, a NAT). Bob's failures exhaust the address's budget and are
// answered 429, but alice, who authenticates correctly — for the first
// time from there, with a secret and with a signed assertion — is never
// refused for them.
func TestOthersFailuresDoNotLockOutAClient(t *testing.T) {
	e := newEnv(t, func(c *oauth.Config) { c.SourceFailureRate, c.SourceFailureBurst = 1, 3 })
	bob, bobSec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	alice, aliceSec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	k := newKeyPair(t, "k1")
	alicePKJ, _ := e.client(oauth.AuthPrivateKeyJWT, registry.Entry{}, nil, k.jwk(t))
	const node = "127.0.0.1:40000"
	bad := request{form: ccForm(), basic: [2]string{string(bob.ID), typo(bobSec.Reveal())}, remote: node}
	good := request{form: ccForm(), basic: [2]string{string(alice.ID), aliceSec.Reveal()}, remote: node}

	for range 3 {
		wantError(t, e.do(bad), http.StatusUnauthorized, "invalid_client")
	}
	for range 20 {
		w := e.do(bad)
		wantError(t, w, http.StatusTooManyRequests, "temporarily_unavailable")
		if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After = %q, want whole seconds", w.Header().Get("Retry-After"))
		}
	}
	// The refusals coalesce in the ledger, one event with a count per
	// reason: the address's flood of failures, whatever the clients named,
	// then bob's own budget.
	if err := e.svc.FlushAudit(t.Context()); err != nil {
		t.Fatal(err)
	}
	var events, count int
	for _, ev := range e.audit.Find(audit.TypeOAuthTokenRefused, audit.OutcomeDenied) {
		events++
		count += max(1, atoi(ev.Details["count"]))
	}
	if count != 23 || events > 3 {
		t.Errorf("%d refusals in %d events, want 23 in at most 3", count, events)
	}

	var refused int
	for i := range 20 {
		wantError(t, e.do(bad), http.StatusTooManyRequests, "temporarily_unavailable")
		if w := e.do(good); w.Code != http.StatusOK {
			refused++
			t.Logf("alice's request %d: %d %s", i, w.Code, w.Body)
		}
		pkj := request{form: assertionForm(jwtBearer, k.assertion(t, alicePKJ.ID, e.clock.Now())), remote: node}
		if w := e.do(pkj); w.Code != http.StatusOK {
			refused++
			t.Logf("alice's assertion %d: %d %s", i, w.Code, w.Body)
		}
	}
	if refused > 0 {
		t.Errorf("%d of alice's 40 correct requests were refused for bob's failures", refused)
	}
}

// TestFailedAttemptsPerClientAreBounded guesses one client's secret from
// ten addresses at once. The client's own failure budget bounds how many
// guesses are checked at all, whatever the number of addresses; the rest
// are refused with 429 and Retry-After before their secret is looked at.
// The client keeps working from the address it authenticated from before
// the attack; a new address waits for the budget, and gets in once the
// guessing stops.
func TestFailedAttemptsPerClientAreBounded(t *testing.T) {
	e := newEnv(t, func(c *oauth.Config) { c.ClientFailureRate, c.ClientFailureBurst = 1, 5 })
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	home := request{form: ccForm(), basic: [2]string{string(cl.ID), sec.Reveal()}, remote: "198.51.100.1:1000"}
	e.mustToken(home)

	var checked, limited int
	for round := range 10 {
		if round%2 == 1 {
			e.clock.Add(time.Second)
		}
		for src := range 10 {
			guess, _ := oauth.NewSecret()
			w := e.do(request{form: ccForm(), basic: [2]string{string(cl.ID), guess.Reveal()},
				remote: "203.0.113." + strconv.Itoa(10+src) + ":1000"})
			switch w.Code {
			case http.StatusUnauthorized:
				checked++
			case http.StatusTooManyRequests:
				limited++
				if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 {
					t.Errorf("Retry-After = %q, want whole seconds", w.Header().Get("Retry-After"))
				}
				wantError(t, w, http.StatusTooManyRequests, "temporarily_unavailable")
			default:
				t.Fatalf("guess: %d %s", w.Code, w.Body)
			}
		}
		e.mustToken(home) // never refused for the guesses
	}
	// 5 at once and 1 a second for the 5 seconds the guessing lasted.
	if checked > 5+5 || limited < 90 {
		t.Errorf("%d guesses checked and %d refused unchecked from 10 addresses, want at most 10 checked", checked, limited)
	}
	newcomer := home
	newcomer.remote = "198.51.100.2:1000"
	wantError(t, e.do(newcomer), http.StatusTooManyRequests, "temporarily_unavailable")
	e.clock.Add(5 * time.Second)
	e.mustToken(newcomer)
}
