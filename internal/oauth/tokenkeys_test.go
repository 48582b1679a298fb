package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTokenKeysMatchesJWKSEndpoint(t *testing.T) {
	e := newEnv(t)
	served := func() string {
		w := httptest.NewRecorder()
		e.svc.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, issuer+"/oauth2/jwks", nil))
		return w.Body.String()
	}
	jwks, v1 := e.svc.TokenKeys()
	if string(jwks) != served() {
		t.Fatalf("TokenKeys = %s, /oauth2/jwks serves %s", jwks, served())
	}
	if _, again := e.svc.TokenKeys(); again != v1 {
		t.Errorf("version changed without a rotation: %d then %d", v1, again)
	}
	// A rotation step that prepares the next key changes the set and the
	// version.
	e.clock.Add(23 * time.Hour)
	if err := e.svc.RotateKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	jwks2, v2 := e.svc.TokenKeys()
	if v2 == v1 || string(jwks2) == string(jwks) {
		t.Errorf("after rotation: version %d -> %d, keys changed %v", v1, v2, string(jwks2) != string(jwks))
	}
	if string(jwks2) != served() {
		t.Errorf("TokenKeys = %s, /oauth2/jwks serves %s", jwks2, served())
	}
}
