package oauth_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
)

const (
	exchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
	accessType    = "urn:ietf:params:oauth:token-type:access_token"
)

func exchangeForm(subject string, kv ...string) url.Values {
	f := url.Values{"grant_type": {exchangeGrant}, "subject_token": {subject}, "subject_token_type": {accessType}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// hop is one service of a delegation chain.
type hop struct {
	entry registry.Entry
	id    oauth.ClientID
	auth  [2]string
}

func TestTokenExchange(t *testing.T) {
	e := newEnv(t)
	mk := func(name string, scopes []string, audiences ...string) hop {
		ent := e.newEntry(name, "orders:read", "orders:write", "admin")
		c, sec, err := e.svc.CreateClient(t.Context(), adm, oauth.ClientSpec{EntryID: ent.ID, Scopes: scopes, Audiences: audiences})
		if err != nil {
			t.Fatal(err)
		}
		watch.track(sec.Reveal())
		return hop{ent, c.ID, [2]string{string(c.ID), sec.Reveal()}}
	}
	// web calls gateway, which calls orders on web's behalf, which calls
	// billing, which calls ledger.
	web := mk("web", []string{"orders:read", "orders:write"}, "spiffe://kith.test/gateway")
	gw := mk("gateway", []string{"orders:read", "orders:write", "admin"}, "spiffe://kith.test/orders-svc")
	ord := mk("orders-svc", []string{"orders:read", "orders:write"}, "spiffe://kith.test/billing")
	bil := mk("billing", []string{"orders:read"}, "spiffe://kith.test/ledger")

	t0tok := e.mustToken(request{form: ccForm(), basic: web.auth}).AccessToken
	e.clock.Add(time.Minute)
	r1 := e.mustToken(request{form: exchangeForm(t0tok), basic: gw.auth})
	if r1.IssuedTokenType != accessType {
		t.Errorf("issued_token_type %q, want %q", r1.IssuedTokenType, accessType)
	}
	c1 := e.verify(r1.AccessToken)
	wantAct := map[string]any{"sub": "spiffe://kith.test/gateway", "client_id": string(gw.id)}
	if c1.Subject != "spiffe://kith.test/web" || c1.ClientID != string(gw.id) || c1.Scope != "orders:read orders:write" {
		t.Errorf("first hop claims %+v", c1)
	}
	if d := cmp.Diff(wantAct, c1.Act); d != "" {
		t.Errorf("act mismatch (-want +got):\n%s", d)
	}
	// The delegated token does not outlive the subject token.
	if got, want := c1.Expiry.Time(), t0.Add(5*time.Minute); !got.Equal(want) {
		t.Errorf("exp %v, want the subject token's %v", got, want)
	}

	// Scopes never widen: gateway holds admin, but web's token did not.
	wantError(t, e.do(request{form: exchangeForm(t0tok, "scope", "admin"), basic: gw.auth}), http.StatusBadRequest, "invalid_scope")
	// Only the audience of a token may exchange it.
	wantError(t, e.do(request{form: exchangeForm(t0tok), basic: ord.auth}), http.StatusBadRequest, "invalid_grant")
	// The target must be one the actor may reach.
	wantError(t, e.do(request{form: exchangeForm(t0tok, "audience", "spiffe://kith.test/ledger"), basic: gw.auth}),
		http.StatusBadRequest, "invalid_target")

	r2 := e.mustToken(request{form: exchangeForm(r1.AccessToken, "scope", "orders:read"), basic: ord.auth})
	c2 := e.verify(r2.AccessToken)
	want2 := map[string]any{"sub": "spiffe://kith.test/orders-svc", "client_id": string(ord.id), "act": wantAct}
	if d := cmp.Diff(want2, c2.Act); d != "" {
		t.Errorf("second hop act mismatch (-want +got):\n%s", d)
	}
	if c2.Subject != "spiffe://kith.test/web" || c2.Scope != "orders:read" {
		t.Errorf("second hop claims %+v", c2)
	}
	r3 := e.mustToken(request{form: exchangeForm(r2.AccessToken), basic: bil.auth})
	if c3 := e.verify(r3.AccessToken); c3.Scope != "orders:read" || c3.Act["act"] == nil {
		t.Errorf("third hop claims %+v", c3)
	}

	// A fourth actor would exceed the default depth of 3.
	led := mk("ledger", []string{"orders:read"}, "https://ledger.kith.test")
	wantError(t, e.do(request{form: exchangeForm(r3.AccessToken), basic: led.auth}), http.StatusBadRequest, "invalid_grant")

	t.Run("expired subject token", func(t *testing.T) {
		e.clock.Add(5 * time.Minute)
		defer e.clock.Add(-5 * time.Minute)
		wantError(t, e.do(request{form: exchangeForm(t0tok), basic: gw.auth}), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("actor_token refused", func(t *testing.T) {
		w := e.do(request{form: exchangeForm(t0tok, "actor_token", "x", "actor_token_type", accessType), basic: gw.auth})
		wantError(t, w, http.StatusBadRequest, "invalid_request")
	})
}

func TestSecretRotationOverlap(t *testing.T) {
	e := newEnv(t)
	cl, old := e.client(oauth.AuthSecretPost, registry.Entry{}, nil)
	form := func(s oauth.Secret) url.Values {
		return ccForm("client_id", string(cl.ID), "client_secret", s.Reveal())
	}
	rotated, fresh, err := e.svc.RotateSecret(t.Context(), adm, cl.ID, time.Hour)
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	watch.track(fresh.Reveal())
	if fresh.Equal(old) || len(rotated.Secrets) != 2 || !rotated.Secrets[0].ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after rotation: %+v", rotated.Secrets)
	}
	e.mustToken(request{form: form(old)})
	e.mustToken(request{form: form(fresh)})

	e.clock.Add(59 * time.Minute)
	e.mustToken(request{form: form(old)})
	e.clock.Add(time.Minute)
	wantError(t, e.do(request{form: form(old)}), http.StatusUnauthorized, "invalid_client")
	e.mustToken(request{form: form(fresh)})

	// A rotation without overlap ends the current secret at once and
	// forgets the dead one.
	again, newest, err := e.svc.RotateSecret(t.Context(), adm, cl.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	watch.track(newest.Reveal())
	if len(again.Secrets) != 1 {
		t.Errorf("%d secrets after a rotation without overlap, want 1", len(again.Secrets))
	}
	wantError(t, e.do(request{form: form(fresh)}), http.StatusUnauthorized, "invalid_client")
	e.mustToken(request{form: form(newest)})

	if _, _, err := e.svc.RotateSecret(t.Context(), adm, cl.ID, -time.Second); !asValidation(err, new(*oauth.ValidationError)) {
		t.Errorf("negative overlap: error %v, want a ValidationError", err)
	}
	pk, _ := e.client(oauth.AuthPrivateKeyJWT, registry.Entry{}, nil)
	if _, _, err := e.svc.RotateSecret(t.Context(), adm, pk.ID, time.Hour); !asValidation(err, new(*oauth.ValidationError)) {
		t.Errorf("rotating a keyed client's secret: error %v, want a ValidationError", err)
	}
	if _, _, err := e.svc.RotateSecret(t.Context(), adm, "ci_none", time.Hour); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("rotating an unknown client: error %v, want ErrNotFound", err)
	}
	checkNoSecret(t, e, newest)
}

func TestIntrospectionAndRevocation(t *testing.T) {
	e := newEnv(t)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read"})
	auth := [2]string{string(cl.ID), sec.Reveal()}
	billing := e.newEntry("billing")
	rs, rsSec, err := e.svc.CreateClient(t.Context(), adm, oauth.ClientSpec{EntryID: billing.ID, Audiences: []string{"https://x.kith.test"}})
	if err != nil {
		t.Fatal(err)
	}
	stranger, strangerSec, err := e.svc.CreateClient(t.Context(), adm, oauth.ClientSpec{EntryID: e.newEntry("stranger").ID, Audiences: []string{"https://x.kith.test"}})
	if err != nil {
		t.Fatal(err)
	}
	watch.track(rsSec.Reveal())
	watch.track(strangerSec.Reveal())
	tok := e.mustToken(request{form: ccForm(), basic: auth}).AccessToken
	c := e.verify(tok)

	got := e.introspect(rs.ID, rsSec, tok) // billing is in the audience
	want := map[string]any{
		"active": true, "scope": "orders:read", "client_id": string(cl.ID), "token_type": "Bearer",
		"exp": float64(c.Expiry.Time().Unix()), "iat": float64(t0.Unix()), "sub": "spiffe://kith.test/orders",
		"aud": []any{"spiffe://kith.test/billing", "https://api.kith.test"}, "iss": issuer, "jti": c.ID, "acr": oauth.ACRSecret,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("introspection mismatch (-want +got):\n%s", d)
	}
	if got := e.introspect(cl.ID, sec, tok); got["active"] != true {
		t.Error("the token's own client sees it inactive")
	}
	if got := e.introspect(stranger.ID, strangerSec, tok); !cmp.Equal(got, map[string]any{"active": false}) {
		t.Errorf("a client outside the audience learns %v", got)
	}
	if got := e.introspect(rs.ID, rsSec, "garbage"); !cmp.Equal(got, map[string]any{"active": false}) {
		t.Errorf("garbage introspects as %v", got)
	}
	wantError(t, e.do(request{path: oauth.PathIntrospect, form: url.Values{"token": {tok}}}), http.StatusUnauthorized, "invalid_client")

	// Revocation (RFC 7009): 200 for garbage, then the token is inactive.
	revoke := func(tok string) int {
		return e.do(request{path: oauth.PathRevoke, form: url.Values{"token": {tok}}, basic: auth}).Code
	}
	if code := revoke("garbage"); code != http.StatusOK {
		t.Errorf("revoking garbage: %d, want 200", code)
	}
	if code := revoke(tok); code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	if got := e.introspect(rs.ID, rsSec, tok); got["active"] != false {
		t.Errorf("revoked token introspects as %v", got)
	}
	if evs := e.audit.OfType("oauth.token.revoked"); len(evs) != 1 || evs[0].Details["jti"] != c.ID {
		t.Errorf("revocation events %+v", evs)
	}
	// Other tokens of the client are unaffected.
	tok2 := e.mustToken(request{form: ccForm(), basic: auth}).AccessToken
	if got := e.introspect(rs.ID, rsSec, tok2); got["active"] != true {
		t.Error("a fresh token is inactive")
	}

	t.Run("expiry", func(t *testing.T) {
		e.clock.Add(5 * time.Minute)
		defer e.clock.Add(-5 * time.Minute)
		if got := e.introspect(rs.ID, rsSec, tok2); got["active"] != false {
			t.Errorf("expired token introspects as %v", got)
		}
	})
	t.Run("all tokens of a client", func(t *testing.T) {
		if err := e.svc.RevokeTokens(t.Context(), adm, cl.ID, "leaked"); err != nil {
			t.Fatal(err)
		}
		if got := e.introspect(rs.ID, rsSec, tok2); got["active"] != false {
			t.Errorf("token of a revoked client introspects as %v", got)
		}
		e.clock.Add(2 * time.Second)
		tok3 := e.mustToken(request{form: ccForm(), basic: auth}).AccessToken
		if got := e.introspect(rs.ID, rsSec, tok3); got["active"] != true {
			t.Error("a token obtained after the revocation is inactive")
		}
		if err := e.svc.DeleteClient(t.Context(), adm, cl.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.introspect(rs.ID, rsSec, tok3); got["active"] != false {
			t.Errorf("token of a deleted client introspects as %v", got)
		}
		if _, err := e.svc.GetClient(t.Context(), cl.ID); !errors.Is(err, oauth.ErrNotFound) {
			t.Errorf("GetClient after delete: %v", err)
		}
	})
}

func TestRateLimits(t *testing.T) {
	t.Run("per client", func(t *testing.T) {
		e := newEnv(t, func(c *oauth.Config) { c.ClientRate, c.ClientBurst = 1, 2 })
		cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
		other, otherSec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
		req := request{form: ccForm(), basic: [2]string{string(cl.ID), sec.Reveal()}}
		e.mustToken(req)
		e.mustToken(req)
		w := e.do(req)
		wantError(t, w, http.StatusTooManyRequests, "temporarily_unavailable")
		if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After = %q, want whole seconds", w.Header().Get("Retry-After"))
		}
		e.mustToken(request{form: ccForm(), basic: [2]string{string(other.ID), otherSec.Reveal()}})
		e.clock.Add(time.Second)
		e.mustToken(req)
	})
	t.Run("per source, failures only", func(t *testing.T) {
		e := newEnv(t, func(c *oauth.Config) { c.SourceFailureRate, c.SourceFailureBurst = 1, 3 })
		cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
		good := request{form: ccForm(), basic: [2]string{string(cl.ID), sec.Reveal()}, remote: "198.51.100.7:1000"}
		for range 5 {
			e.mustToken(good) // successes are not counted per source
		}
		bad := good
		bad.basic[1] = typo(sec.Reveal())
		for range 3 {
			wantError(t, e.do(bad), http.StatusUnauthorized, "invalid_client")
		}
		wantError(t, e.do(bad), http.StatusTooManyRequests, "temporarily_unavailable")
		e.mustToken(good) // a source's failures never refuse a correct request
		// Another source, and the same /64 of IPv6 counts as one source.
		other := good
		other.remote = "198.51.100.8:1000"
		e.mustToken(other)
		v6 := bad
		v6.remote = "[2001:db8::1]:1"
		for range 3 {
			e.do(v6)
		}
		v6.remote = "[2001:db8::2]:1"
		wantError(t, e.do(v6), http.StatusTooManyRequests, "temporarily_unavailable")
		e.clock.Add(2 * time.Second)
		e.mustToken(good)
	})
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, func(c *oauth.Config) { c.KeyRotation, c.KeyPublishLead = 24*time.Hour, time.Hour })
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	auth := [2]string{string(cl.ID), sec.Reveal()}
	kids := func() []string {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(e.get(oauth.PathJWKS).Body.Bytes(), &set); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.KeyID)
		}
		return out
	}
	kidOf := func(tok string) string {
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		return jws.Signatures[0].Header.KeyID
	}
	step := func(d time.Duration) {
		e.clock.Add(d)
		if err := e.svc.RotateKeys(t.Context()); err != nil {
			t.Fatalf("RotateKeys: %v", err)
		}
	}
	first := kidOf(e.mustToken(request{form: ccForm(), basic: auth}).AccessToken)
	if d := cmp.Diff([]string{first}, kids()); d != "" {
		t.Fatalf("initial JWKS mismatch (-want +got):\n%s", d)
	}
	step(23 * time.Hour) // rotation minus lead: the next key is published
	if got := kids(); len(got) != 2 {
		t.Fatalf("JWKS %v, want the active and the prepared key", got)
	}
	e.clock.Add(59 * time.Minute)
	old := e.mustToken(request{form: ccForm(), basic: auth}).AccessToken
	if kidOf(old) != first {
		t.Error("the prepared key signed before its lead time")
	}
	step(time.Minute) // the prepared key takes over
	tok := e.mustToken(request{form: ccForm(), basic: auth}).AccessToken
	second := kidOf(tok)
	if second == first || !containsAll(kids(), first, second) {
		t.Fatalf("after rotation: signing kid %s, JWKS %v", second, kids())
	}
	e.verify(tok)
	if got := e.introspect(cl.ID, sec, old); got["active"] != true {
		t.Error("a token of the retired key is inactive before it expires")
	}
	step(10 * time.Minute) // past the longest token lifetime
	if got := kids(); containsAll(got, first) {
		t.Errorf("JWKS %v still holds the retired key", got)
	}
	if got := kids(); !containsAll(got, second) {
		t.Errorf("JWKS %v lost the active key", got)
	}
	if len(e.audit.OfType("oauth.key.activated")) != 2 || len(e.audit.OfType("oauth.key.retired")) != 1 {
		t.Errorf("key events: %d activated, %d retired", len(e.audit.OfType("oauth.key.activated")), len(e.audit.OfType("oauth.key.retired")))
	}
}

func containsAll(s []string, vs ...string) bool {
	for _, v := range vs {
		found := false
		for _, x := range s {
			found = found || x == v
		}
		if !found {
			return false
		}
	}
	return true
}

// TestIntrospectionOfARepeatedToken checks that a token introspected
// again, whose verified claims are then remembered, still turns inactive
// when it expires or is revoked.
func TestIntrospectionOfARepeatedToken(t *testing.T) {
	for _, end := range []string{"expiry", "revocation"} {
		t.Run(end, func(t *testing.T) {
			e := newEnv(t)
			cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read"})
			tok := e.mustToken(request{form: ccForm(), basic: [2]string{string(cl.ID), sec.Reveal()}}).AccessToken
			for i := range 3 {
				if got := e.introspect(cl.ID, sec, tok); got["active"] != true {
					t.Fatalf("introspection %d: %v", i, got)
				}
			}
			if end == "expiry" {
				e.clock.Add(5*time.Minute + time.Second)
			} else if code := e.do(request{path: oauth.PathRevoke, form: url.Values{"token": {tok}},
				basic: [2]string{string(cl.ID), sec.Reveal()}}).Code; code != http.StatusOK {
				t.Fatalf("revoke: %d", code)
			}
			if got := e.introspect(cl.ID, sec, tok); !cmp.Equal(got, map[string]any{"active": false}) {
				t.Errorf("after %s the token introspects as %v", end, got)
			}
		})
	}
}

// TestClientChangeNeedsItsAuditEvent: when the ledger cannot take a client
// change's event, the change is not made: no client is created, and a
// rotated secret is not stored (the old one keeps working, the new one
// never does).
func TestClientChangeNeedsItsAuditEvent(t *testing.T) {
	e := newEnv(t)
	cl, old := e.client(oauth.AuthSecretPost, registry.Entry{}, nil)
	e.audit.Fail(errors.New("ledger down"))
	if _, _, err := e.svc.CreateClient(t.Context(), adm, oauth.ClientSpec{EntryID: e.entry.ID, AuthMethod: "client_secret_basic",
		Audiences: []string{"https://api.kith.test"}}); err == nil {
		t.Error("CreateClient succeeded without its audit event")
	}
	_, fresh, err := e.svc.RotateSecret(t.Context(), adm, cl.ID, 0)
	if err == nil || fresh.Reveal() != "" {
		t.Errorf("RotateSecret = %v (secret returned: %v), want the ledger's error and no secret", err, fresh.Reveal() != "")
	}
	e.audit.Fail(nil)
	if list, _, err := e.svc.ListClients(t.Context(), oauth.ClientFilter{}); err != nil || len(list) != 1 {
		t.Errorf("clients after a refused create: %d, %v; want 1", len(list), err)
	}
	e.mustToken(request{form: ccForm("client_id", string(cl.ID), "client_secret", old.Reveal())})
}
