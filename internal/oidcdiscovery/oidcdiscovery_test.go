package oidcdiscovery

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

type fixedBundle struct{ b *spiffebundle.Bundle }

func (f fixedBundle) Bundle() *spiffebundle.Bundle { return f.b }

func TestProvider(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := spiffebundle.New(spiffeid.RequireTrustDomainFromString("example.org"))
	b.AddJWTAuthority("kid-1", k.Public())
	p, err := New(Config{Issuer: "https://oidc.example.org/td/", Bundles: fixedBundle{b}})
	if err != nil {
		t.Fatal(err)
	}
	disc, keys := p.Paths()
	if disc != "/td/.well-known/openid-configuration" || keys != "/td/keys" {
		t.Errorf("Paths = %q, %q", disc, keys)
	}
	get := func(method, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w
	}
	var doc Document
	if w := get("GET", disc); w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &doc) != nil {
		t.Fatalf("discovery: %d %s", w.Code, w.Body)
	}
	if doc.Issuer != "https://oidc.example.org/td" || doc.JWKSURI != "https://oidc.example.org/td/keys" ||
		len(doc.IDTokenSigningAlgValuesSupported) != 1 || doc.IDTokenSigningAlgValuesSupported[0] != "ES256" {
		t.Errorf("document = %+v", doc)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if w := get("GET", keys); w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &set) != nil || len(set.Keys) != 1 {
		t.Fatalf("keys: %d %s", w.Code, w.Body)
	}
	if k := set.Keys[0]; k["kid"] != "kid-1" || k["use"] != "sig" || k["alg"] != "ES256" || k["d"] != nil {
		t.Errorf("key = %v", k)
	}
	if w := get("GET", "/keys"); w.Code != http.StatusNotFound {
		t.Errorf("a path outside the issuer's: %d", w.Code)
	}
	if w := get("POST", keys); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
	for _, bad := range []string{"http://oidc.example.org", "https://", "https://x.example/?q=1", "https://x.example/#f", "oidc.example.org"} {
		if _, err := New(Config{Issuer: bad, Bundles: fixedBundle{b}}); err == nil {
			t.Errorf("issuer %q accepted", bad)
		}
	}
}
