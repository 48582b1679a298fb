package oauth_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
)

// leakEvents returns the oauth.client.secret_leaked events recorded.
func leakEvents(e *env) []audit.Event {
	var out []audit.Event
	for _, ev := range e.audit.All() {
		if ev.Type == audit.TypeOAuthClientSecretLeaked {
			out = append(out, ev)
		}
	}
	return out
}

func TestReportLeakWithoutRevoking(t *testing.T) {
	e := newEnv(t)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	leak, err := e.svc.ReportLeak(t.Context(), adm, oauth.LeakReport{Secret: sec, Location: "deploy/values.yaml:4", Places: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := oauth.Leak{ClientID: cl.ID, EntryID: e.entry.ID, SPIFFEID: "spiffe://kith.test/orders", SecretID: cl.Secrets[0].ID,
		Location: "deploy/values.yaml:4", Places: 3, Live: true, At: t0}
	if diff := cmp.Diff(want, leak); diff != "" {
		t.Errorf("Leak (-want +got):\n%s", diff)
	}
	// Reported, not revoked: the secret still works.
	e.mustToken(request{form: ccForm(), basic: [2]string{string(cl.ID), sec.Reveal()}})
	evs := leakEvents(e)
	if len(evs) != 1 {
		t.Fatalf("%d leak events, want 1", len(evs))
	}
	wantEv := audit.Event{Type: audit.TypeOAuthClientSecretLeaked, Actor: adm, Target: string(cl.ID), Action: "report",
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"entry_id": e.entry.ID, "spiffe_id": "spiffe://kith.test/orders",
			"secret_id": cl.Secrets[0].ID, "location": "deploy/values.yaml:4", "places": "3", "live": "true", "revoked": "false"}}
	if diff := cmp.Diff(wantEv, evs[0], cmpopts.IgnoreFields(audit.Event{}, "Time", "RequestID")); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	checkNoSecret(t, e, sec)
}

func TestReportLeakRevokes(t *testing.T) {
	e := newEnv(t)
	cl, leaked := e.client(oauth.AuthSecretPost, registry.Entry{}, nil)
	form := func(s oauth.Secret) request {
		return request{form: ccForm("client_id", string(cl.ID), "client_secret", s.Reveal())}
	}
	tok := e.mustToken(form(leaked)).AccessToken
	// billing, in the token's audience, may introspect it.
	rs, rsSecret := e.client(oauth.AuthSecretBasic, e.newEntry("billing"), nil)
	if got := e.introspect(rs.ID, rsSecret, tok); got["active"] != true {
		t.Fatalf("a fresh token is not active: %v", got)
	}
	// A rotation with overlap: the leaked secret and a new one both work.
	_, fresh, err := e.svc.RotateSecret(t.Context(), adm, cl.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	watch.track(fresh.Reveal())
	leak, err := e.svc.ReportLeak(t.Context(), adm, oauth.LeakReport{Secret: leaked, Location: "ci/old.env:2",
		Commit: "0123456789abcdef0123456789abcdef01234567", Revoke: true})
	if err != nil {
		t.Fatal(err)
	}
	if !leak.Live || !leak.Revoked || leak.SecretID != cl.Secrets[0].ID {
		t.Fatalf("Leak = %+v, want the first secret, live and revoked", leak)
	}
	wantError(t, e.do(form(leaked)), http.StatusUnauthorized, "invalid_client")
	e.clock.Add(time.Second) // past the revocation's cut-off
	e.mustToken(form(fresh)) // the other secret still works
	if got := e.introspect(rs.ID, rsSecret, tok); got["active"] != false {
		t.Errorf("a token issued before the leak is still active: %v", got)
	}
	got, err := e.svc.GetClient(t.Context(), cl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Secrets) != 1 || got.Secrets[0].ID == leak.SecretID {
		t.Errorf("secrets after revocation: %+v, want the new one only", got.Secrets)
	}
	evs := leakEvents(e)
	if len(evs) != 1 || evs[0].Action != "revoke" || evs[0].Details["revoked"] != "true" || evs[0].Details["commit"] == "" {
		t.Fatalf("leak events: %+v", evs)
	}
	var revoked bool
	for _, ev := range e.audit.All() {
		revoked = revoked || ev.Type == audit.TypeOAuthClientTokensRevoked && ev.Target == string(cl.ID) &&
			strings.Contains(ev.Details["reason"], "leaked")
	}
	if !revoked {
		t.Error("no oauth.client.tokens_revoked event for the leak")
	}
	// Reported again: the server no longer knows the secret.
	if _, err := e.svc.ReportLeak(t.Context(), adm, oauth.LeakReport{Secret: leaked, Revoke: true}); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("a revoked secret reported again: %v, want ErrNotFound", err)
	}
	checkNoSecret(t, e, leaked)
	checkNoSecret(t, e, fresh)
}

func TestReportLeakOfAnExpiredSecret(t *testing.T) {
	e := newEnv(t)
	cl, old := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	_, fresh, err := e.svc.RotateSecret(t.Context(), adm, cl.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	watch.track(fresh.Reveal())
	e.clock.Add(2 * time.Minute)
	leak, err := e.svc.ReportLeak(t.Context(), adm, oauth.LeakReport{Secret: old, Location: "a:1", Revoke: true})
	if err != nil {
		t.Fatal(err)
	}
	if leak.Live || leak.Revoked {
		t.Errorf("Leak = %+v, want neither live nor revoked", leak)
	}
	for _, ev := range e.audit.All() {
		if ev.Type == audit.TypeOAuthClientTokensRevoked {
			t.Error("the leak of an expired secret revoked the client's tokens")
		}
	}
	e.mustToken(request{form: ccForm(), basic: [2]string{string(cl.ID), fresh.Reveal()}})
}

func TestReportLeakOfAnUnknownSecret(t *testing.T) {
	e := newEnv(t)
	sec, err := oauth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	watch.track(sec.Reveal())
	if _, err := e.svc.ReportLeak(t.Context(), adm, oauth.LeakReport{Secret: sec, Location: "x.env:1"}); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatalf("ReportLeak: %v, want ErrNotFound", err)
	}
	evs := leakEvents(e)
	if len(evs) != 1 || evs[0].Outcome != audit.OutcomeFailure || evs[0].Target != "" || evs[0].Details["location"] != "x.env:1" {
		t.Fatalf("leak events: %+v, want one failure with the location", evs)
	}
	checkNoSecret(t, e, sec)
}

func TestReportLeakValidation(t *testing.T) {
	e := newEnv(t)
	_, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	tests := map[string]oauth.LeakReport{
		"no secret":          {Location: "a:1"},
		"control character":  {Secret: sec, Location: "a\n:1"},
		"secret in location": {Secret: sec, Location: "kith_sk_abc:1"},
		"long location":      {Secret: sec, Location: strings.Repeat("a", 1025)},
		"bad commit":         {Secret: sec, Commit: "HEAD"},
		"upper-case commit":  {Secret: sec, Commit: "ABCDEF12"},
		"negative places":    {Secret: sec, Places: -1},
	}
	for name, r := range tests {
		if _, err := e.svc.ReportLeak(t.Context(), adm, r); !asValidation(err, new(*oauth.ValidationError)) {
			t.Errorf("%s: %v, want a ValidationError", name, err)
		}
	}
	if n := len(leakEvents(e)); n != 0 {
		t.Errorf("%d events for invalid reports", n)
	}
}
