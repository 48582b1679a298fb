package oauth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
)

// TestOneClientCannotFillTheReplayCache has one private_key_jwt client
// (mallory) send fresh assertions far beyond its rate limit, for as long
// as it likes, and forged ones in alice's name. Only assertions that
// verified and passed the rate limit have their jti remembered, each
// client within its own share of the replay cache: mallory is refused for
// its own excess, and alice's assertions and DPoP proofs keep working.
func TestOneClientCannotFillTheReplayCache(t *testing.T) {
	e := newEnv(t, func(c *oauth.Config) {
		c.ClientRate, c.ClientBurst = 1, 2
		c.ReplayCapacity, c.ReplayShare = 64, 8
	})
	mk, ak := newKeyPair(t, "m"), newKeyPair(t, "a")
	mallory, _ := e.client(oauth.AuthPrivateKeyJWT, registry.Entry{}, nil, mk.jwk(t))
	alice, _ := e.client(oauth.AuthPrivateKeyJWT, registry.Entry{}, nil, ak.jwk(t))
	forger := newKeyPair(t, "a")
	e.mustToken(request{form: assertionForm(jwtBearer, ak.assertion(t, alice.ID, e.clock.Now()))})

	var tokens, limited, busy int
	for round := range 30 {
		for range 10 {
			w := e.do(request{form: assertionForm(jwtBearer, mk.assertion(t, mallory.ID, e.clock.Now())), remote: "203.0.113.9:1"})
			switch w.Code {
			case http.StatusOK:
				tokens++
			case http.StatusTooManyRequests:
				limited++
			case http.StatusServiceUnavailable: // the whole cache is full
				busy++
			default:
				t.Fatalf("round %d: mallory got %d %s, want 200 or 429", round, w.Code, w.Body)
			}
			// Forged in alice's name: the signature fails (or alice's
			// failure budget is spent), nothing is remembered.
			if w := e.do(request{form: assertionForm(jwtBearer, forger.assertion(t, alice.ID, e.clock.Now())),
				remote: "203.0.113.10:1"}); w.Code != http.StatusUnauthorized && w.Code != http.StatusTooManyRequests {
				t.Fatalf("forged assertion: %d %s, want 401 or 429", w.Code, w.Body)
			}
		}
		e.clock.Add(time.Second)
	}
	if tokens > 8 || busy > 0 {
		t.Errorf("mallory got %d tokens with one-time assertions (its share is 8), and filled the cache for everyone %d times", tokens, busy)
	}
	dk := newKeyPair(t, "dpop")
	for range 2 { // 7 identifiers with the first request: within alice's share
		e.mustToken(request{form: assertionForm(jwtBearer, ak.assertion(t, alice.ID, e.clock.Now()))})
		e.clock.Add(time.Second) // alice's rate limit is 1/s too
		e.mustToken(request{form: assertionForm(jwtBearer, ak.assertion(t, alice.ID, e.clock.Now())),
			dpop: proof(t, dk, http.MethodPost, issuer+oauth.PathToken, e.clock.Now())})
		e.clock.Add(time.Second)
	}
}
