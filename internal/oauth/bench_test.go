package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
)

// unlimited lifts the per-client rate limit for benchmarks.
func unlimited(c *oauth.Config) { c.ClientRate, c.ClientBurst = 1e9, 1e9 }

// benchToken runs the token endpoint's handler in process with a request
// built by req, and flushes the audit queue as the server would.
func benchToken(b *testing.B, e *env, req func() *http.Request) {
	h := e.svc.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req())
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		if i++; i%1000 == 0 {
			e.svc.FlushAudit(b.Context())
		}
	}
}

func BenchmarkTokenClientSecretBasic(b *testing.B) {
	e := newEnv(b, unlimited)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read"})
	body := ccForm().Encode()
	benchToken(b, e, func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, issuer+oauth.PathToken, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(string(cl.ID), sec.Reveal())
		return r
	})
}

func BenchmarkTokenPrivateKeyJWT(b *testing.B) {
	e := newEnv(b, unlimited)
	k := newKeyPair(b, "k1")
	cl, _ := e.client(oauth.AuthPrivateKeyJWT, registry.Entry{}, []string{"orders:read"}, k.jwk(b))
	// Assertions are signed ahead, outside the timed loop: signing is the
	// client's work.
	assertions := make([]string, 0, 4096)
	for range cap(assertions) {
		assertions = append(assertions, assertionForm(jwtBearer, k.assertion(b, cl.ID, t0)).Encode())
	}
	i := 0
	benchToken(b, e, func() *http.Request {
		if i == len(assertions) {
			// Reusing an assertion would be refused as a replay: sign more.
			b.StopTimer()
			for j := range assertions {
				assertions[j] = assertionForm(jwtBearer, k.assertion(b, cl.ID, t0)).Encode()
			}
			i = 0
			b.StartTimer()
		}
		r := httptest.NewRequest(http.MethodPost, issuer+oauth.PathToken, strings.NewReader(assertions[i]))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		i++
		return r
	})
}

func BenchmarkIntrospect(b *testing.B) {
	e := newEnv(b, unlimited)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read"})
	tok := e.mustToken(request{form: ccForm(), basic: [2]string{string(cl.ID), sec.Reveal()}}).AccessToken
	body := url.Values{"token": {tok}}.Encode()
	benchToken(b, e, func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, issuer+oauth.PathIntrospect, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(string(cl.ID), sec.Reveal())
		return r
	})
}
