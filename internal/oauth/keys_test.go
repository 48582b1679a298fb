package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
)

// jwksOf returns the kids a service publishes.
func jwksOf(t *testing.T, svc *oauth.Service) []string {
	t.Helper()
	w := httptest.NewRecorder()
	svc.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, issuer+oauth.PathJWKS, nil))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func TestReplicasShareSigningKeys(t *testing.T) {
	e := newEnv(t)
	b, err := oauth.New(t.Context(), e.cfg) // a second replica on the same store
	if err != nil {
		t.Fatalf("second replica: %v", err)
	}
	if d := cmp.Diff(jwksOf(t, e.svc), jwksOf(t, b)); d != "" {
		t.Fatalf("replicas publish different keys (-a +b):\n%s", d)
	}
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	tok := e.mustToken(request{form: ccForm(), basic: [2]string{string(cl.ID), sec.Reveal()}}).AccessToken
	a := e.svc
	e.svc = b // a token of replica a is active at replica b
	if got := e.introspect(cl.ID, sec, tok); got["active"] != true {
		t.Errorf("replica b introspects a's token as %v", got)
	}
	e.svc = a

	// Replica b prepares the next key; a sees it at its next step, and
	// both agree again.
	e.clock.Add(23 * time.Hour)
	if err := b.RotateKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RotateKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	ka, kb := jwksOf(t, e.svc), jwksOf(t, b)
	if len(ka) != 2 || !cmp.Equal(ka, kb) {
		t.Errorf("after rotation on b: a publishes %v, b %v", ka, kb)
	}
	if n := len(e.audit.OfType("oauth.key.prepared")); n != 1 {
		t.Errorf("%d keys prepared by two replicas, want 1", n)
	}
}

func TestConfigValidation(t *testing.T) {
	base := newEnv(t).cfg
	tests := []struct {
		name   string
		mutate func(*oauth.Config)
		want   string
	}{
		{"no issuer", func(c *oauth.Config) { c.Issuer = "" }, "Issuer"},
		{"http issuer", func(c *oauth.Config) { c.Issuer = "http://kith.test" }, "Issuer"},
		{"issuer with a query", func(c *oauth.Config) { c.Issuer = "https://kith.test/?a=b" }, "Issuer"},
		{"no store", func(c *oauth.Config) { c.Clients = nil }, "Clients is required"},
		{"no KEK", func(c *oauth.Config) { c.KEK = nil }, "KEK is required"},
		{"long tokens", func(c *oauth.Config) { c.TokenTTL = 2 * time.Hour }, "TokenTTL"},
		{"lead longer than rotation", func(c *oauth.Config) { c.KeyPublishLead = 48 * time.Hour }, "KeyPublishLead"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mutate(&cfg)
			_, err := oauth.New(t.Context(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New error = %v, want one naming %s", err, tc.want)
			}
		})
	}
}
