package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/oauth"
)

// tokenStatus asks the token endpoint for a token with a client secret
// (HTTP Basic) and returns the status.
func (e *oauthEnv) tokenStatus(t *testing.T, clientID, secret string) int {
	t.Helper()
	req, err := http.NewRequest("POST", e.base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := e.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestSecretCheck(t *testing.T) {
	var logs syncBuffer
	e := newOAuthEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.AccessLog = true
	})
	cs := e.createClient(t, api.ClientCreate{EntryID: e.entry.ID, Audiences: []string{"spiffe://example.org/billing"}})
	unknown, err := oauth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	check := func(in api.SecretCheck) (int, api.SecretCheckResult, api.Problem) {
		t.Helper()
		var raw map[string]any
		code := e.do(t, "POST", "/v1/clients/secret-check", e.token, in, &raw)
		var res api.SecretCheckResult
		var p api.Problem
		remarshal(t, raw, &res)
		remarshal(t, raw, &p)
		return code, res, p
	}

	// A secret no client holds: known false.
	code, res, _ := check(api.SecretCheck{Secret: unknown.Reveal(), Location: "a.env:1"})
	if code != http.StatusOK || res != (api.SecretCheckResult{}) {
		t.Errorf("unknown secret: %d %+v", code, res)
	}
	// Not a Kith secret at all: 400 on the field, without echoing it.
	bad := cs.Secret[:len(cs.Secret)-1] + "!"
	code, _, p := check(api.SecretCheck{Secret: bad})
	if code != http.StatusBadRequest || p.Field != "secret" || strings.Contains(p.Detail, bad) {
		t.Errorf("malformed secret: %d %+v", code, p)
	}
	code, _, p = check(api.SecretCheck{Secret: cs.Secret, Commit: "HEAD"})
	if code != http.StatusBadRequest || p.Field != "commit" {
		t.Errorf("bad commit: %d %+v", code, p)
	}

	// Reported without revoking: live, and it still works.
	want := api.SecretCheckResult{Known: true, ClientID: cs.Client.ID, EntryID: e.entry.ID, SPIFFEID: "spiffe://example.org/orders",
		SecretID: cs.Client.Secrets[0].ID, Live: true}
	code, res, _ = check(api.SecretCheck{Secret: cs.Secret, Location: "deploy/values.yaml:4", Places: 2})
	if diff := cmp.Diff(want, res); code != http.StatusOK || diff != "" {
		t.Errorf("check: %d (-want +got):\n%s", code, diff)
	}
	if code := e.tokenStatus(t, cs.Client.ID, cs.Secret); code != http.StatusOK {
		t.Errorf("token with a reported, unrevoked secret: %d", code)
	}

	// Revoked: the secret is refused from then on.
	want.Revoked = true
	code, res, _ = check(api.SecretCheck{Secret: cs.Secret, Location: "deploy/values.yaml:4", Commit: "0a1b2c3d", Revoke: true})
	if diff := cmp.Diff(want, res); code != http.StatusOK || diff != "" {
		t.Errorf("revoke: %d (-want +got):\n%s", code, diff)
	}
	if code := e.tokenStatus(t, cs.Client.ID, cs.Secret); code != http.StatusUnauthorized {
		t.Errorf("token with a revoked secret: %d, want 401", code)
	}
	code, res, _ = check(api.SecretCheck{Secret: cs.Secret})
	if code != http.StatusOK || res.Known {
		t.Errorf("a revoked secret checked again: %d %+v, want unknown", code, res)
	}

	// Every check is in the ledger: three reports of a known secret (two
	// by this client, one after revocation failing), one unknown; never
	// the secret.
	got := e.events(t, audit.TypeOAuthClientSecretLeaked, "")
	var outcomes []string
	for _, ev := range got {
		outcomes = append(outcomes, ev.Outcome+" "+ev.Target)
	}
	wantOutcomes := []string{"failure ", "success " + cs.Client.ID, "success " + cs.Client.ID, "failure "}
	if diff := cmp.Diff(wantOutcomes, outcomes); diff != "" {
		t.Errorf("leak events (-want +got):\n%s", diff)
	}
	if n := len(e.events(t, audit.TypeOAuthClientTokensRevoked, "")); n != 1 {
		t.Errorf("%d tokens_revoked events, want 1", n)
	}
	all := e.events(t, "", "")
	for _, ev := range all {
		if strings.Contains(string(ev.Body), cs.Secret[len("kith_sk_"):]) || strings.Contains(string(ev.Body), unknown.Reveal()[8:]) {
			t.Errorf("event %s holds a secret", ev.Type)
		}
	}
	if strings.Contains(logs.String(), cs.Secret[len("kith_sk_"):]) || strings.Contains(logs.String(), unknown.Reveal()[8:]) {
		t.Error("the log holds a secret")
	}

	// The trust engine applied the reports: one context input for the
	// client's secret, replaced by the revoked report.
	const orders = "spiffe://example.org/orders"
	await.Until(t, "the leak weighs on the entry's trust", 5*time.Second, e.trust.host.Progress, func() bool {
		ins := e.trust.host.Contexts(orders)
		return len(ins) == 1 && strings.HasSuffix(ins[0].Reason, ", revoked")
	})
	if in := e.trust.host.Contexts(orders)[0]; in.Kind != "leak" || in.ID != "leak:"+cs.Client.ID+":"+cs.Client.Secrets[0].ID {
		t.Errorf("context input %+v", in)
	}
}

// remarshal decodes the JSON of v into out.
func remarshal(t testing.TB, v any, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

func TestSecretCheckRateLimited(t *testing.T) {
	e := newOAuthEnv(t)
	e.oauth.secretChecks = newLimiter(0.001, 2) // a refill every 1000 s
	var p api.Problem
	for i := range 2 {
		if code := e.do(t, "POST", "/v1/clients/secret-check", e.token, api.SecretCheck{Secret: "not"}, &p); code != http.StatusBadRequest {
			t.Fatalf("check %d: %d, want 400 (within the burst)", i, code)
		}
	}
	req, _ := http.NewRequest("POST", "https://"+e.Addr()+"/v1/clients/secret-check", strings.NewReader(`{"secret":"not"}`))
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third check: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestLimiter(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10, 3)
	for i := range 3 {
		if ok, _ := l.take(t0); !ok {
			t.Fatalf("take %d within the burst refused", i)
		}
	}
	if ok, wait := l.take(t0); ok || wait != 100*time.Millisecond {
		t.Errorf("over the burst: %v, wait %v; want refused, 100ms", ok, wait)
	}
	if ok, _ := l.take(t0.Add(100 * time.Millisecond)); !ok {
		t.Error("refused after a refill")
	}
	if ok, _ := l.take(t0.Add(50 * time.Millisecond)); ok {
		t.Error("a clock going back refilled the bucket")
	}
	if ok, _ := l.take(t0.Add(time.Hour)); !ok {
		t.Error("refused after an hour")
	}
	for range 2 {
		l.take(t0.Add(time.Hour))
	}
	if ok, _ := l.take(t0.Add(time.Hour)); ok {
		t.Error("a long pause refilled more than the burst")
	}
}
