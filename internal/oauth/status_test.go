package oauth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/revocation/revocationstore"
)

// setStatus changes the entry's status through the registry, as
// `kith entry quarantine`, `release` and `update --status` do.
func (e *env) setStatus(ent registry.Entry, st registry.Status) registry.Entry {
	e.t.Helper()
	cur, err := e.reg.Get(e.t.Context(), ent.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	spec := cur.Spec()
	spec.Status = string(st)
	out, err := e.reg.Update(e.t.Context(), adm, ent.ID, spec)
	if err != nil {
		e.t.Fatalf("set status %s: %v", st, err)
	}
	return out
}

// revokedForVerifiers reports whether a verifier holding the revocation
// set as it is in the store now — what agents and proxies are sent —
// refuses tok.
func (e *env) revokedForVerifiers(tok string) bool {
	e.t.Helper()
	set, err := revocation.New(e.t.Context(), revocation.Config{Store: revocationstore.New(e.store), Clock: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		e.t.Fatal(err)
	}
	var c claims
	if err := parsed.UnsafeClaimsWithoutVerification(&c); err != nil {
		e.t.Fatal(err)
	}
	iat := c.IssuedAt.Time()
	return set.IsRevoked("jti", c.ID, iat) || set.IsRevoked("client_id", c.ClientID, iat) || set.IsRevoked("spiffe_id", c.Subject, iat)
}

// TestEntryStatusStopsTokens quarantines (then disables) an entry while
// two replicas serve its client. The replica that made the change refuses
// the next token request at once. The other, which has not heard of the
// change yet, still issues a token — and that token, like every token of
// the entry's clients, is refused by verifiers from the moment the change
// committed, whatever the clocks, until the entry is released. After the
// release new tokens are good and the held ones stay revoked; the other
// replica stops too, as soon as it hears of the change.
func TestEntryStatusStopsTokens(t *testing.T) {
	for _, st := range []registry.Status{registry.StatusQuarantined, registry.StatusDisabled} {
		t.Run(string(st), func(t *testing.T) {
			e := newEnv(t)
			b := e.replica()
			cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
			req := request{form: ccForm(), basic: [2]string{string(cl.ID), sec.Reveal()}}
			before := e.mustToken(req).AccessToken
			b.mustToken(req) // b caches the entry as active

			e.clock.Add(2 * time.Second)
			e.setStatus(e.entry, st)
			wantError(t, e.do(req), http.StatusUnauthorized, "invalid_client")

			// b has heard nothing: a token from it is one issued after the
			// change, by a replica that read the entry as active.
			e.clock.Add(2 * time.Second)
			late := b.mustToken(req).AccessToken
			for name, tok := range map[string]string{"issued before the change": before, "issued after it, by the other replica": late} {
				if !e.revokedForVerifiers(tok) {
					t.Errorf("the token %s passes a verifier", name)
				}
			}
			// A client created now for the entry starts held too.
			cl2, sec2 := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
			req2 := request{form: ccForm(), basic: [2]string{string(cl2.ID), sec2.Reveal()}}
			b.svc.EntriesChanged() // a change notice reaches b
			wantError(t, b.do(req), http.StatusUnauthorized, "invalid_client")
			wantError(t, b.do(req2), http.StatusUnauthorized, "invalid_client")

			e.clock.Add(2 * time.Second)
			e.setStatus(e.entry, registry.StatusActive)
			e.clock.Add(time.Second)
			fresh := e.mustToken(req).AccessToken
			fresh2 := e.mustToken(req2).AccessToken
			if e.revokedForVerifiers(fresh) || e.revokedForVerifiers(fresh2) {
				t.Error("a token issued after the release is refused by verifiers")
			}
			if !e.revokedForVerifiers(before) || !e.revokedForVerifiers(late) {
				t.Error("after the release, a token issued before it passes a verifier")
			}
		})
	}
}

// TestOtherReplicasStopWithinTheChangePoll has a replica that gets no
// change notices learn of a quarantine from its change poll alone, within
// its interval.
func TestOtherReplicasStopWithinTheChangePoll(t *testing.T) {
	e := newEnv(t)
	b := e.replica(func(c *oauth.Config) { c.Changes, c.ChangePollInterval = e.store, 20*time.Millisecond })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	req := request{form: ccForm(), basic: [2]string{string(cl.ID), sec.Reveal()}}
	b.mustToken(req)
	e.setStatus(e.entry, registry.StatusQuarantined)
	// The replica's poll signals nothing the test could wait on.
	if !await.Poll(time.Second, func() bool { return b.do(req).Code == http.StatusUnauthorized }) {
		t.Fatal("the replica still issues tokens a second after the quarantine")
	}
}
