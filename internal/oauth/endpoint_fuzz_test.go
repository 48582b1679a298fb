package oauth_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
)

// oauthErrors are the error codes the endpoints may answer with: RFC 6749
// §5.2, RFC 8707 (invalid_target), RFC 9449 (invalid_dpop_proof,
// use_dpop_nonce), RFC 7009 (unsupported_token_type) and 503's
// temporarily_unavailable.
var oauthErrors = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "invalid_target": true, "invalid_dpop_proof": true,
	"use_dpop_nonce": true, "unsupported_token_type": true, "temporarily_unavailable": true,
}

// FuzzEndpoints sends arbitrary forms, Authorization and DPoP headers to
// the token, introspection and revocation endpoints of a service holding
// a real client: the answer must be a success or an OAuth error in JSON
// with a registered code, never a 5xx other than the audit queue's 503.
func FuzzEndpoints(f *testing.F) {
	// Limits high enough that fuzzing explores past them.
	e := newEnv(f, func(c *oauth.Config) {
		c.ClientRate, c.ClientBurst = 1e9, 1e9
		c.SourceFailureRate, c.SourceFailureBurst = 1e9, 1e9
		c.ClientFailureRate, c.ClientFailureBurst = 1e9, 1e9
	})
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read"})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(string(cl.ID)+":"+sec.Reveal()))
	tok := e.mustToken(request{form: ccForm("scope", "orders:read"), basic: [2]string{string(cl.ID), sec.Reveal()}})
	for p := range 3 {
		f.Add(uint8(p), "grant_type=client_credentials&scope=orders%3Aread", basic, "")
		f.Add(uint8(p), "token="+tok.AccessToken, basic, "")
		f.Add(uint8(p), "grant_type=client_credentials&resource=https%3A%2F%2Fapi.kith.test", basic, "eyJhbGciOiJub25lIn0.e30.")
		f.Add(uint8(p), "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token="+tok.AccessToken+
			"&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token", basic, "")
		f.Add(uint8(p), "%zz", "Basic %%%", "x")
	}
	paths := []string{oauth.PathToken, oauth.PathIntrospect, oauth.PathRevoke}
	f.Fuzz(func(t *testing.T, path uint8, body, authz, dpop string) {
		r := httptest.NewRequest(http.MethodPost, issuer+paths[int(path)%len(paths)], strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if dpop != "" {
			r.Header.Set("DPoP", dpop)
		}
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		e.svc.Handler().ServeHTTP(w, r)
		// 503 temporarily_unavailable is the audit queue's back-pressure
		// under the fuzzer's load; any other 5xx is a bug.
		if w.Code >= 500 && (w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"temporarily_unavailable"`)) {
			t.Fatalf("%s: %d %s", r.URL.Path, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var out struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || !oauthErrors[out.Error] {
				t.Fatalf("%s: %d with body %q: not an OAuth error", r.URL.Path, w.Code, w.Body)
			}
		}
	})
}
