package oauth_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
)

func TestClientSecret(t *testing.T) {
	tests := []struct {
		name   string
		method oauth.AuthMethod
		req    func(id oauth.ClientID, sec oauth.Secret) request
	}{
		{"basic", oauth.AuthSecretBasic, func(id oauth.ClientID, sec oauth.Secret) request {
			return request{form: ccForm(), basic: [2]string{string(id), sec.Reveal()}}
		}},
		{"post", oauth.AuthSecretPost, func(id oauth.ClientID, sec oauth.Secret) request {
			return request{form: ccForm("client_id", string(id), "client_secret", sec.Reveal())}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cl, sec := e.client(tc.method, registry.Entry{}, []string{"orders:read", "orders:write"})
			resp := e.mustToken(tc.req(cl.ID, sec))
			if resp.TokenType != "Bearer" || resp.ExpiresIn != 300 || resp.Scope != "orders:read orders:write" {
				t.Errorf("response = %+v, want a Bearer token for 300s with both scopes", resp)
			}
			c := e.verify(resp.AccessToken)
			want := []any{issuer, "spiffe://kith.test/orders", []string{"spiffe://kith.test/billing", "https://api.kith.test"},
				t0.Unix(), t0.Add(5 * time.Minute).Unix(), string(cl.ID), "orders:read orders:write", oauth.ACRSecret}
			got := []any{c.Issuer, c.Subject, []string(c.Audience), c.IssuedAt.Time().Unix(), c.Expiry.Time().Unix(),
				c.ClientID, c.Scope, c.ACR}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("claims mismatch (-want +got):\n%s", d)
			}
			if c.ID == "" || c.Cnf != nil {
				t.Errorf("jti %q, cnf %v: want a jti and no binding", c.ID, c.Cnf)
			}

			// The issuance reached the ledger before the token was
			// returned, without the secret.
			evs := e.audit.OfType("oauth.token.issued")
			if len(evs) != 1 {
				t.Fatalf("%d issuance events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.Actor.ID != string(cl.ID) || ev.Target != e.entry.ID || ev.Details["auth_method"] != string(tc.method) ||
				ev.Details["scope"] != "orders:read orders:write" || ev.Details["jti"] != c.ID || ev.Outcome != audit.OutcomeSuccess {
				t.Errorf("issuance event = %+v", ev)
			}
			checkNoSecret(t, e, sec)
		})
	}
}

// TestBatchedIssuanceAudit checks that with BatchIssuanceAudit an
// issuance reaches the ledger at the next flush rather than before the
// token is returned, and that a ledger failure then refuses no token.
func TestBatchedIssuanceAudit(t *testing.T) {
	e := newEnv(t, func(c *oauth.Config) { c.BatchIssuanceAudit = true })
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read"})
	auth := [2]string{string(cl.ID), sec.Reveal()}
	e.mustToken(request{form: ccForm(), basic: auth})
	if n := len(e.audit.OfType("oauth.token.issued")); n != 0 {
		t.Errorf("%d issuance events before the flush, want 0", n)
	}
	if err := e.svc.FlushAudit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.audit.OfType("oauth.token.issued")); n != 1 {
		t.Errorf("%d issuance events after the flush, want 1", n)
	}
}

// TestIssuanceRefusedWhenLedgerFails checks that, by default, a token
// whose issuance the ledger cannot record is not returned.
func TestIssuanceRefusedWhenLedgerFails(t *testing.T) {
	e := newEnv(t)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read"})
	e.audit.Fail(errors.New("ledger down"))
	w := e.do(request{form: ccForm(), basic: [2]string{string(cl.ID), sec.Reveal()}})
	wantError(t, w, http.StatusServiceUnavailable, "temporarily_unavailable")
	if strings.Contains(w.Body.String(), "access_token") {
		t.Errorf("a token was returned: %s", w.Body)
	}
}

// checkNoSecret fails t if any recorded event mentions the secret.
func checkNoSecret(t testing.TB, e *env, sec oauth.Secret) {
	t.Helper()
	for _, ev := range e.audit.All() {
		b, _ := audit.Marshal(ev)
		if strings.Contains(string(b), sec.Reveal()) || strings.Contains(string(b), sec.Reveal()[8:30]) {
			t.Errorf("event %s holds the secret", ev.Type)
		}
	}
}

func TestScopesAndResources(t *testing.T) {
	e := newEnv(t)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read", "orders:write"})
	auth := [2]string{string(cl.ID), sec.Reveal()}
	tests := []struct {
		name      string
		form      url.Values
		wantScope string
		wantAud   []string
		wantCode  string
	}{
		{"narrower scope", ccForm("scope", "orders:read"), "orders:read", []string{"spiffe://kith.test/billing", "https://api.kith.test"}, ""},
		{"one resource", ccForm("resource", "https://api.kith.test"), "orders:read orders:write", []string{"https://api.kith.test"}, ""},
		{"two resources", ccForm("resource", "https://api.kith.test", "resource", "spiffe://kith.test/billing"), "orders:read orders:write",
			[]string{"https://api.kith.test", "spiffe://kith.test/billing"}, ""},
		{"scope the client lacks", ccForm("scope", "orders:read admin"), "", nil, "invalid_scope"},
		{"scope nobody has", ccForm("scope", "root"), "", nil, "invalid_scope"},
		{"malformed scope", ccForm("scope", "a  b"), "", nil, "invalid_scope"},
		{"resource not allowed", ccForm("resource", "https://other.kith.test"), "", nil, "invalid_target"},
		{"relative resource", ccForm("resource", "/api"), "", nil, "invalid_target"},
		{"resource with fragment", ccForm("resource", "https://api.kith.test#x"), "", nil, "invalid_target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(request{form: tc.form, basic: auth})
			if tc.wantCode != "" {
				wantError(t, w, http.StatusBadRequest, tc.wantCode)
				return
			}
			if w.Code != http.StatusOK {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			c := e.verify(decode[tokenResp](t, w).AccessToken)
			if c.Scope != tc.wantScope {
				t.Errorf("scope %q, want %q", c.Scope, tc.wantScope)
			}
			if d := cmp.Diff(tc.wantAud, []string(c.Audience)); d != "" {
				t.Errorf("aud mismatch (-want +got):\n%s", d)
			}
		})
	}

	// Shrinking the entry's max scopes narrows what the client gets.
	spec := e.entry.Spec()
	spec.MaxScopes = []string{"orders:read"}
	if _, err := e.reg.Update(t.Context(), adm, e.entry.ID, spec); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(10 * time.Second) // past the cache
	resp := e.mustToken(request{form: ccForm(), basic: auth})
	if resp.Scope != "orders:read" {
		t.Errorf("after narrowing the entry: scope %q, want orders:read", resp.Scope)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read"})
	auth := [2]string{string(cl.ID), sec.Reveal()}
	post, postSec := e.client(oauth.AuthSecretPost, registry.Entry{}, []string{"orders:read"})
	other, _ := oauth.NewSecret()
	tests := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"missing grant_type", request{form: url.Values{}, basic: auth}, 400, "invalid_request"},
		{"repeated parameter", request{form: url.Values{"grant_type": {"client_credentials"}, "scope": {"a", "b"}}, basic: auth}, 400, "invalid_request"},
		{"two authentication methods", request{form: ccForm("client_id", string(post.ID), "client_secret", postSec.Reveal()), basic: auth}, 400, "invalid_request"},
		{"client_id contradicts Basic", request{form: ccForm("client_id", string(post.ID)), basic: auth}, 400, "invalid_request"},
		{"form in the URL", request{path: oauth.PathToken + "?grant_type=client_credentials", form: ccForm(), basic: auth}, 400, "invalid_request"},
		{"wrong media type", request{form: ccForm(), basic: auth, header: http.Header{"Content-Type": {"application/json"}}}, 415, "invalid_request"},
		{"no credentials", request{form: ccForm()}, 401, "invalid_client"},
		{"wrong secret", request{form: ccForm(), basic: [2]string{string(cl.ID), other.Reveal()}}, 401, "invalid_client"},
		{"malformed secret", request{form: ccForm(), basic: [2]string{string(cl.ID), typo(sec.Reveal())}}, 401, "invalid_client"},
		{"unknown client", request{form: ccForm(), basic: [2]string{"ci_nobody", sec.Reveal()}}, 401, "invalid_client"},
		{"method the client is not registered for", request{form: ccForm("client_id", string(cl.ID), "client_secret", sec.Reveal())}, 401, "invalid_client"},
		{"unsupported grant type", request{form: url.Values{"grant_type": {"password"}}, basic: auth}, 400, "unsupported_grant_type"},
		{"scope beyond the client's", request{form: ccForm("scope", "orders:write"), basic: auth}, 400, "invalid_scope"},
		{"resource beyond the client's", request{form: ccForm("resource", "https://evil.example"), basic: auth}, 400, "invalid_target"},
		{"invalid subject token", request{form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"subject_token": {"not.a.token"}, "subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}}, basic: auth}, 400, "invalid_grant"},
		{"bad DPoP proof", request{form: ccForm(), basic: auth, dpop: "garbage"}, 400, "invalid_dpop_proof"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(tc.req)
			wantError(t, w, tc.status, tc.code)
			if tc.code == "invalid_client" {
				wantBasic := tc.req.basic[0] != ""
				if got := w.Header().Get("WWW-Authenticate"); (got != "") != wantBasic || (wantBasic && !strings.HasPrefix(got, "Basic")) {
					t.Errorf("WWW-Authenticate = %q, want a Basic challenge: %v", got, wantBasic)
				}
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", w.Header().Get("Cache-Control"))
			}
			body := w.Body.String()
			for _, leak := range []string{"store:", "sqlite", "registry", "cause", sec.Reveal()} {
				if strings.Contains(body, leak) {
					t.Errorf("error body %q leaks %q", body, leak)
				}
			}
		})
	}

	t.Run("body too large", func(t *testing.T) {
		w := e.do(request{form: ccForm("scope", strings.Repeat("a", 70<<10)), basic: auth})
		wantError(t, w, http.StatusRequestEntityTooLarge, "invalid_request")
	})
	t.Run("unauthorized_client", func(t *testing.T) {
		tok := e.mustToken(request{form: ccForm(), basic: auth}).AccessToken
		w := e.do(request{path: oauth.PathRevoke, form: url.Values{"token": {tok},
			"client_id": {string(post.ID)}, "client_secret": {postSec.Reveal()}}})
		wantError(t, w, http.StatusBadRequest, "unauthorized_client")
	})

	// Every refusal reached the ledger.
	if err := e.svc.FlushAudit(t.Context()); err != nil {
		t.Fatal(err)
	}
	var n int
	for _, ev := range e.audit.OfType("oauth.token.refused") {
		n += max(1, atoi(ev.Details["count"]))
		if ev.Outcome != audit.OutcomeDenied || ev.Reason == "" {
			t.Errorf("refusal event %+v lacks outcome or reason", ev)
		}
	}
	if n < len(tests) {
		t.Errorf("%d refusals recorded, want at least %d", n, len(tests))
	}
	checkNoSecret(t, e, sec)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestEntryStatus(t *testing.T) {
	e := newEnv(t)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	auth := [2]string{string(cl.ID), sec.Reveal()}
	e.mustToken(request{form: ccForm(), basic: auth})
	spec := e.entry.Spec()
	spec.Status = string(registry.StatusQuarantined)
	if _, err := e.reg.Update(t.Context(), adm, e.entry.ID, spec); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(oauth.DefaultCacheTTL)
	wantError(t, e.do(request{form: ccForm(), basic: auth}), http.StatusUnauthorized, "invalid_client")
}

func TestMetadata(t *testing.T) {
	e := newEnv(t)
	md := decode[map[string]any](t, e.get(oauth.PathMetadata))
	// RFC 8414 §2, RFC 8705 §3.3 and RFC 9449 §5.1 names.
	known := []string{"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint",
		"scopes_supported", "response_types_supported", "response_modes_supported", "grant_types_supported",
		"token_endpoint_auth_methods_supported", "token_endpoint_auth_signing_alg_values_supported",
		"service_documentation", "ui_locales_supported", "op_policy_uri", "op_tos_uri", "revocation_endpoint",
		"revocation_endpoint_auth_methods_supported", "revocation_endpoint_auth_signing_alg_values_supported",
		"introspection_endpoint", "introspection_endpoint_auth_methods_supported",
		"introspection_endpoint_auth_signing_alg_values_supported", "code_challenge_methods_supported",
		"tls_client_certificate_bound_access_tokens", "mtls_endpoint_aliases", "dpop_signing_alg_values_supported"}
	for k := range md {
		if !slices.Contains(known, k) {
			t.Errorf("metadata field %q is not an RFC 8414, 8705 or 9449 name", k)
		}
	}
	for _, k := range []string{"issuer", "token_endpoint", "jwks_uri", "response_types_supported"} {
		if _, ok := md[k]; !ok {
			t.Errorf("required metadata field %q is missing", k)
		}
	}
	want := map[string]any{
		"issuer": issuer, "token_endpoint": issuer + "/oauth2/token", "jwks_uri": issuer + "/oauth2/jwks",
		"introspection_endpoint": issuer + "/oauth2/introspect", "revocation_endpoint": issuer + "/oauth2/revoke",
		"grant_types_supported":                      []any{"client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"},
		"token_endpoint_auth_methods_supported":      []any{"client_secret_basic", "client_secret_post", "private_key_jwt", "jwt_svid", "tls_client_auth"},
		"tls_client_certificate_bound_access_tokens": true,
	}
	for k, v := range want {
		if d := cmp.Diff(v, md[k]); d != "" {
			t.Errorf("metadata %s mismatch (-want +got):\n%s", k, d)
		}
	}
}

// typo changes the last character of s.
func typo(s string) string {
	last := s[len(s)-1]
	if last == 'x' {
		return s[:len(s)-1] + "y"
	}
	return s[:len(s)-1] + "x"
}
