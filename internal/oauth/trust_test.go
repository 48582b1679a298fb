package oauth_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/registry"
)

// trustMap is a TrustSource: the trust of each identity, high for
// others.
type trustMap struct {
	mu sync.Mutex
	m  map[string]policy.Trust
}

func (t *trustMap) Trust(id string) policy.Trust {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr, ok := t.m[id]; ok {
		return tr
	}
	return policy.Trust{Score: 900, Level: "high"}
}

func (t *trustMap) set(id string, score int, level string, signals ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[id] = policy.Trust{Score: score, Level: level, Signals: signals}
}

const orders = "spiffe://kith.test/orders"

// newTrustEnv is an env whose token service reads trust from the
// returned source, with orders:write and admin* sensitive.
func newTrustEnv(t *testing.T, mutate ...func(*oauth.Config)) (*env, *trustMap) {
	src := &trustMap{m: map[string]policy.Trust{}}
	e := newEnv(t, append([]func(*oauth.Config){func(c *oauth.Config) {
		c.Trust = oauth.TrustConfig{Source: src, Sensitive: []string{"orders:write", "admin*"}}
	}}, mutate...)...)
	return e, src
}

// lastEvent flushes the audit queue and returns the last event of typ.
func lastEvent(t *testing.T, e *env, typ string) audit.Event {
	t.Helper()
	if err := e.svc.FlushAudit(t.Context()); err != nil {
		t.Fatal(err)
	}
	evs := e.audit.OfType(typ)
	if len(evs) == 0 {
		t.Fatalf("no %s event", typ)
	}
	return evs[len(evs)-1]
}

// TestTrustLevels checks the default rules by level: high and medium
// unchanged, low shortened and without sensitive scopes, untrusted
// refused; and that the ledger says the trust each was decided under.
func TestTrustLevels(t *testing.T) {
	e, src := newTrustEnv(t)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read", "orders:write", "admin"})
	auth := [2]string{string(cl.ID), sec.Reveal()}

	for _, level := range []struct {
		name  string
		score int
	}{{"high", 900}, {"medium", 650}} {
		src.set(orders, level.score, level.name)
		resp := e.mustToken(request{form: ccForm(), basic: auth})
		if resp.ExpiresIn != 300 || resp.Scope != "orders:read orders:write admin" {
			t.Errorf("%s: response %+v, want the full lifetime and scopes", level.name, resp)
		}
		ev := lastEvent(t, e, audit.TypeOAuthTokenIssued)
		if ev.Details["trust_level"] != level.name || ev.Trust == nil || ev.Trust.Score != level.score || ev.Details["trust_applied"] != "" {
			t.Errorf("%s: issuance event %+v", level.name, ev)
		}
	}

	src.set(orders, 350, "low", "rate.spike")
	resp := e.mustToken(request{form: ccForm(), basic: auth})
	if resp.ExpiresIn != 75 || resp.Scope != "orders:read" {
		t.Errorf("low: response %+v, want 75s and orders:read only", resp)
	}
	c := e.verify(resp.AccessToken)
	if c.Scope != "orders:read" || c.Expiry.Time().Sub(c.IssuedAt.Time()) != 75*time.Second {
		t.Errorf("low: claims %+v", c)
	}
	ev := lastEvent(t, e, audit.TypeOAuthTokenIssued)
	if ev.Details["trust_level"] != "low" || ev.Details["trust_applied"] != "dropped scopes orders:write admin; lifetime 1m15s" {
		t.Errorf("low: issuance event details %v", ev.Details)
	}
	// Asking for sensitive scopes only is refused; with others, the
	// others are granted.
	wantError(t, e.do(request{form: ccForm("scope", "admin orders:write"), basic: auth}), http.StatusBadRequest, "invalid_scope")
	if r := e.mustToken(request{form: ccForm("scope", "admin orders:read"), basic: auth}); r.Scope != "orders:read" {
		t.Errorf("low, mixed request: scope %q, want orders:read", r.Scope)
	}

	src.set(orders, 120, "untrusted", "source.concurrent", "rate.spike")
	w := e.do(request{form: ccForm(), basic: auth})
	wantError(t, w, http.StatusBadRequest, "unauthorized_client")
	if got := decode[tokenResp](t, w); strings.Contains(got.Description, "trust") || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("refusal %+v (headers %v): the public text must not explain the trust", got, w.Header())
	}
	ev = lastEvent(t, e, audit.TypeOAuthTokenRefused)
	if ev.Outcome != audit.OutcomeDenied || ev.Actor.ID != string(cl.ID) || ev.Details["trust_level"] != "untrusted" ||
		ev.Details["trust_applied"] != "refused" || ev.Trust == nil || ev.Trust.Score != 120 ||
		!strings.Contains(ev.Reason, "trust untrusted (score 120: source.concurrent, rate.spike)") {
		t.Errorf("refusal event %+v", ev)
	}
	checkNoSecret(t, e, sec)
}

// TestTrustCustomLevels checks configured rules, a sensitive prefix, and
// that a level without a rule is left alone.
func TestTrustCustomLevels(t *testing.T) {
	e, src := newTrustEnv(t, func(c *oauth.Config) {
		c.Trust.Levels = map[string]oauth.TrustRule{"medium": {TTLFraction: 0.5}, "low": {Refuse: true}}
	})
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read", "admin"})
	auth := [2]string{string(cl.ID), sec.Reveal()}
	src.set(orders, 600, "medium")
	if r := e.mustToken(request{form: ccForm(), basic: auth}); r.ExpiresIn != 150 || r.Scope != "orders:read admin" {
		t.Errorf("medium: %+v, want 150s with every scope", r)
	}
	src.set(orders, 300, "low")
	wantError(t, e.do(request{form: ccForm(), basic: auth}), http.StatusBadRequest, "unauthorized_client")
	src.set(orders, 100, "untrusted") // no rule: unchanged
	if r := e.mustToken(request{form: ccForm(), basic: auth}); r.ExpiresIn != 300 {
		t.Errorf("untrusted without a rule: %+v, want unchanged", r)
	}
}

// TestTrustExchange checks that an exchanged token is issued under the
// lower of the actor's and the subject's trust, and never outlives the
// subject token.
func TestTrustExchange(t *testing.T) {
	e, src := newTrustEnv(t)
	mk := func(name string, audiences ...string) [2]string {
		ent := e.newEntry(name, "orders:read", "orders:write")
		c, sec, err := e.svc.CreateClient(t.Context(), adm, oauth.ClientSpec{EntryID: ent.ID,
			Scopes: []string{"orders:read", "orders:write"}, Audiences: audiences})
		if err != nil {
			t.Fatal(err)
		}
		watch.track(sec.Reveal())
		return [2]string{string(c.ID), sec.Reveal()}
	}
	web := mk("web", "spiffe://kith.test/gateway")
	gw := mk("gateway", "spiffe://kith.test/orders-svc")
	subject := e.mustToken(request{form: ccForm(), basic: web}).AccessToken

	src.set("spiffe://kith.test/web", 300, "low") // the subject is low; the actor high
	r := e.mustToken(request{form: exchangeForm(subject), basic: gw})
	if r.ExpiresIn != 75 || r.Scope != "orders:read" {
		t.Errorf("exchange for a low subject: %+v, want 75s and orders:read", r)
	}
	src.set("spiffe://kith.test/gateway", 100, "untrusted")
	wantError(t, e.do(request{form: exchangeForm(subject), basic: gw}), http.StatusBadRequest, "unauthorized_client")
}

func TestTrustConfigRefused(t *testing.T) {
	for _, tc := range []oauth.TrustConfig{
		{Levels: map[string]oauth.TrustRule{"hgih": {}}},
		{Levels: map[string]oauth.TrustRule{"low": {TTLFraction: 2}}},
		{Sensitive: []string{"a*b"}},
		{Sensitive: []string{"*"}},
	} {
		cfg := newEnv(t).cfg
		cfg.Trust = tc
		if _, err := oauth.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "Trust.") {
			t.Errorf("New(Trust: %+v) = %v, want a Trust error", tc, err)
		}
	}
}
