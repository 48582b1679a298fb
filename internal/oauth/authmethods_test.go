package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
)

const (
	jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	jwtSPIFFE = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe"
)

func assertionForm(typ, a string, kv ...string) url.Values {
	f := ccForm(kv...)
	f.Set("client_assertion_type", typ)
	f.Set("client_assertion", a)
	return f
}

func TestPrivateKeyJWT(t *testing.T) {
	e := newEnv(t)
	k1, k2 := newKeyPair(t, "k1"), newKeyPair(t, "k2")
	cl, sec := e.client(oauth.AuthPrivateKeyJWT, registry.Entry{}, []string{"orders:read"}, k1.jwk(t))
	if !sec.IsZero() {
		t.Error("a private_key_jwt client got a secret")
	}
	if _, err := e.svc.AddKey(t.Context(), adm, cl.ID, k2.jwk(t)); err != nil {
		t.Fatalf("AddKey: %v", err)
	}
	now := t0
	replayed := k1.assertion(t, cl.ID, now)
	e.mustToken(request{form: assertionForm(jwtBearer, replayed)})

	tests := []struct {
		name  string
		a     string
		extra []string
		code  string
	}{
		{"first key", k1.assertion(t, cl.ID, now), nil, ""},
		{"second key", k2.assertion(t, cl.ID, now), nil, ""},
		{"with client_id", k1.assertion(t, cl.ID, now), []string{"client_id", string(cl.ID)}, ""},
		{"audience is the issuer", k1.assertion(t, cl.ID, now, func(c map[string]any) { c["aud"] = issuer }), nil, ""},
		{"audience is an alternate base URL", k1.assertion(t, cl.ID, now, func(c map[string]any) { c["aud"] = "https://127.0.0.1:8443/oauth2/token" }), nil, ""},
		{"replayed jti", replayed, nil, "invalid_client"},
		{"other client_id", k1.assertion(t, cl.ID, now), []string{"client_id", "ci_other"}, "invalid_client"},
		{"wrong audience", k1.assertion(t, cl.ID, now, func(c map[string]any) { c["aud"] = "https://evil.example/token" }), nil, "invalid_client"},
		{"expired", k1.assertion(t, cl.ID, now, func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), nil, "invalid_client"},
		{"expires too far ahead", k1.assertion(t, cl.ID, now, func(c map[string]any) { c["exp"] = now.Add(time.Hour).Unix() }), nil, "invalid_client"},
		{"no jti", k1.assertion(t, cl.ID, now, func(c map[string]any) { delete(c, "jti") }), nil, "invalid_client"},
		{"no exp", k1.assertion(t, cl.ID, now, func(c map[string]any) { delete(c, "exp") }), nil, "invalid_client"},
		{"iss differs from sub", k1.assertion(t, cl.ID, now, func(c map[string]any) { c["iss"] = "someone" }), nil, "invalid_client"},
		{"unknown key", newKeyPair(t, "k1").assertion(t, cl.ID, now), nil, "invalid_client"},
		{"unregistered kid", newKeyPair(t, "k9").assertion(t, cl.ID, now), nil, "invalid_client"},
		{"not a JWT", "a.b.c", nil, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(request{form: assertionForm(jwtBearer, tc.a, tc.extra...)})
			if tc.code == "" {
				if w.Code != http.StatusOK {
					t.Fatalf("%d %s", w.Code, w.Body)
				}
				if c := e.verify(decode[tokenResp](t, w).AccessToken); c.ACR != oauth.ACRPrivateKey {
					t.Errorf("acr %q, want %q", c.ACR, oauth.ACRPrivateKey)
				}
				return
			}
			wantError(t, w, http.StatusUnauthorized, tc.code)
		})
	}

	t.Run("removed key", func(t *testing.T) {
		if _, err := e.svc.RemoveKey(t.Context(), adm, cl.ID, "k2"); err != nil {
			t.Fatalf("RemoveKey: %v", err)
		}
		wantError(t, e.do(request{form: assertionForm(jwtBearer, k2.assertion(t, cl.ID, now))}), http.StatusUnauthorized, "invalid_client")
		e.mustToken(request{form: assertionForm(jwtBearer, k1.assertion(t, cl.ID, now))})
	})
}

func TestJWTSVID(t *testing.T) {
	e := newEnv(t)
	cl, _ := e.client(oauth.AuthJWTSVID, registry.Entry{}, []string{"orders:read"})
	tests := []struct {
		name  string
		a     string
		typ   string
		extra []string
		code  string
	}{
		{"jwt-spiffe", e.jwtSVID("orders", issuer), jwtSPIFFE, nil, ""},
		{"jwt-bearer", e.jwtSVID("orders", issuer+"/oauth2/token"), jwtBearer, nil, ""},
		{"with client_id", e.jwtSVID("orders", issuer), jwtSPIFFE, []string{"client_id", string(cl.ID)}, ""},
		{"other audience", e.jwtSVID("orders", "spiffe://kith.test/billing"), jwtSPIFFE, nil, "invalid_client"},
		{"identity without a client", e.jwtSVID("billing", issuer), jwtSPIFFE, nil, "invalid_client"},
		{"client_id of another identity", e.jwtSVID("billing", issuer), jwtSPIFFE, []string{"client_id", string(cl.ID)}, "invalid_client"},
		{"unknown assertion type", e.jwtSVID("orders", issuer), "urn:example:saml", nil, "invalid_client"},
		{"self-signed", newKeyPair(t, "x").sign(t, map[string]any{"sub": "spiffe://kith.test/orders", "aud": issuer,
			"exp": t0.Add(time.Minute).Unix()}, nil), jwtSPIFFE, nil, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(request{form: assertionForm(tc.typ, tc.a, tc.extra...)})
			if tc.code == "" {
				if w.Code != http.StatusOK {
					t.Fatalf("%d %s", w.Code, w.Body)
				}
				c := e.verify(decode[tokenResp](t, w).AccessToken)
				if c.ClientID != string(cl.ID) || c.Subject != "spiffe://kith.test/orders" || c.ACR != oauth.ACRSVID {
					t.Errorf("claims %+v", c)
				}
				return
			}
			wantError(t, w, http.StatusUnauthorized, tc.code)
		})
	}

	t.Run("expired", func(t *testing.T) {
		a := e.jwtSVID("orders", issuer)
		e.clock.Add(10 * time.Minute)
		defer e.clock.Add(-10 * time.Minute)
		wantError(t, e.do(request{form: assertionForm(jwtSPIFFE, a)}), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("two clients need client_id", func(t *testing.T) {
		cl2, _ := e.client(oauth.AuthJWTSVID, registry.Entry{}, nil)
		wantError(t, e.do(request{form: assertionForm(jwtSPIFFE, e.jwtSVID("orders", issuer))}), http.StatusUnauthorized, "invalid_client")
		resp := e.mustToken(request{form: assertionForm(jwtSPIFFE, e.jwtSVID("orders", issuer), "client_id", string(cl2.ID))})
		if c := e.verify(resp.AccessToken); c.ClientID != string(cl2.ID) {
			t.Errorf("client_id %q, want %q", c.ClientID, cl2.ID)
		}
	})
	t.Run("revoked SPIFFE ID", func(t *testing.T) {
		a := e.jwtSVID("orders", issuer)
		e.clock.Add(time.Second)
		if _, err := e.revs.Revoke(t.Context(), revocation.Entry{Kind: revocation.KindSPIFFEID, Value: "spiffe://kith.test/orders"}); err != nil {
			t.Fatal(err)
		}
		wantError(t, e.do(request{form: assertionForm(jwtSPIFFE, a, "client_id", string(cl.ID))}), http.StatusUnauthorized, "invalid_client")
	})
}

func TestTLSClientAuth(t *testing.T) {
	e := newEnv(t)
	cl, _ := e.client(oauth.AuthTLSClient, registry.Entry{}, []string{"orders:read"})
	orders, _ := e.svid("orders")
	billing, _ := e.svid("billing")
	foreign := newEnv(t)
	stranger, _ := foreign.svid("orders")

	resp := e.mustToken(request{form: ccForm(), peer: orders})
	c := e.verify(resp.AccessToken)
	if c.ClientID != string(cl.ID) || c.ACR != oauth.ACRSVID {
		t.Errorf("claims %+v", c)
	}
	if got, want := c.Cnf["x5t#S256"], x5t(orders[0].Raw); got != want {
		t.Errorf("cnf.x5t#S256 = %v, want %v", got, want)
	}
	e.mustToken(request{form: ccForm("client_id", string(cl.ID)), peer: orders})

	tests := []struct {
		name string
		req  request
	}{
		{"no certificate", request{form: ccForm("client_id", string(cl.ID))}},
		{"certificate of an identity without a client", request{form: ccForm(), peer: billing}},
		{"client_id of another identity", request{form: ccForm("client_id", string(cl.ID)), peer: billing}},
		{"certificate of another trust domain's CA", request{form: ccForm(), peer: stranger}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.do(tc.req), http.StatusUnauthorized, "invalid_client")
		})
	}
	t.Run("revoked certificate", func(t *testing.T) {
		if _, err := e.revs.Revoke(t.Context(), revocation.Entry{Kind: revocation.KindX509Serial,
			Value: serialHex(orders[0]), ExpiresAt: orders[0].NotAfter}); err != nil {
			t.Fatal(err)
		}
		wantError(t, e.do(request{form: ccForm(), peer: orders}), http.StatusUnauthorized, "invalid_client")
	})
}

func TestSecretClientOverMTLSIsCertificateBound(t *testing.T) {
	e := newEnv(t)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, nil)
	certs, _ := e.svid("orders")
	resp := e.mustToken(request{form: ccForm(), basic: [2]string{string(cl.ID), sec.Reveal()}, peer: certs})
	c := e.verify(resp.AccessToken)
	if c.Cnf["x5t#S256"] != x5t(certs[0].Raw) || c.ACR != oauth.ACRSecret {
		t.Errorf("cnf %v, acr %q: want the certificate's thumbprint and the secret's acr", c.Cnf, c.ACR)
	}
}

func TestClientValidation(t *testing.T) {
	e := newEnv(t)
	k := newKeyPair(t, "k")
	tests := []struct {
		name  string
		spec  oauth.ClientSpec
		field string
	}{
		{"no entry", oauth.ClientSpec{Audiences: []string{"https://a"}}, "entry_id"},
		{"unknown entry", oauth.ClientSpec{EntryID: "nope", Audiences: []string{"https://a"}}, "entry_id"},
		{"scope beyond the entry", oauth.ClientSpec{EntryID: e.entry.ID, Scopes: []string{"root"}, Audiences: []string{"https://a"}}, "scopes"},
		{"malformed scope", oauth.ClientSpec{EntryID: e.entry.ID, Scopes: []string{"a b"}, Audiences: []string{"https://a"}}, "scopes"},
		{"no audience", oauth.ClientSpec{EntryID: e.entry.ID}, "audiences"},
		{"relative audience", oauth.ClientSpec{EntryID: e.entry.ID, Audiences: []string{"api"}}, "audiences"},
		{"unknown method", oauth.ClientSpec{EntryID: e.entry.ID, AuthMethod: "none", Audiences: []string{"https://a"}}, "auth_method"},
		{"keys on a secret client", oauth.ClientSpec{EntryID: e.entry.ID, Audiences: []string{"https://a"}, Keys: []json.RawMessage{k.jwk(t)}}, "keys"},
		{"private key", oauth.ClientSpec{EntryID: e.entry.ID, AuthMethod: "private_key_jwt", Audiences: []string{"https://a"},
			Keys: []json.RawMessage{privateJWK(t, k)}}, "jwk"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.svc.CreateClient(t.Context(), adm, tc.spec)
			var ve *oauth.ValidationError
			if !asValidation(err, &ve) || ve.Field != tc.field {
				t.Errorf("CreateClient error = %v, want a ValidationError for %s", err, tc.field)
			}
		})
	}
}
