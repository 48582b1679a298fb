package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/ca"
)

// oauthEnv is a running server with an entry, and a plain HTTPS client
// that trusts the server's SVID (DNS name localhost) the Web PKI way.
type oauthEnv struct {
	*testServer
	entry api.Entry
	base  string // https://127.0.0.1:<port>
	roots *x509.CertPool
}

func newOAuthEnv(t *testing.T, mutate ...func(*Config)) *oauthEnv {
	t.Helper()
	ts := startServer(t, "example.org", mutate...)
	e := &oauthEnv{testServer: ts, base: "https://" + ts.Addr(), roots: x509.NewCertPool()}
	for _, c := range ts.CA().X509Authorities() {
		e.roots.AddCert(c)
	}
	code := ts.do(t, "POST", "/v1/entries", ts.token, api.Entry{SPIFFEID: "spiffe://example.org/orders",
		Selectors: []string{"unix:uid:1000"}, MaxScopes: []string{"orders:read", "orders:write"}}, &e.entry)
	if code != http.StatusCreated {
		t.Fatalf("create entry: %d", code)
	}
	return e
}

// httpClient trusts the server as a Web PKI client would, by DNS name,
// and presents certs.
func (e *oauthEnv) httpClient(certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: e.roots, ServerName: "localhost", Certificates: certs},
	}}
}

func (e *oauthEnv) createClient(t *testing.T, in api.ClientCreate) api.ClientSecret {
	t.Helper()
	var out api.ClientSecret
	if code := e.do(t, "POST", "/v1/clients", e.token, in, &out); code != http.StatusCreated {
		t.Fatalf("create client: %d", code)
	}
	return out
}

func TestOAuthInteropClientCredentials(t *testing.T) {
	e := newOAuthEnv(t)
	for _, tc := range []struct {
		method string
		style  oauth2.AuthStyle
	}{
		{"client_secret_basic", oauth2.AuthStyleInHeader},
		{"client_secret_post", oauth2.AuthStyleInParams},
	} {
		t.Run(tc.method, func(t *testing.T) {
			cs := e.createClient(t, api.ClientCreate{EntryID: e.entry.ID, AuthMethod: tc.method,
				Scopes: []string{"orders:read"}, Audiences: []string{"spiffe://example.org/billing"}})
			if !strings.HasPrefix(cs.Secret, "kith_sk_") {
				t.Fatalf("secret %q lacks the kith_sk_ prefix", cs.Secret)
			}
			cfg := clientcredentials.Config{
				ClientID: cs.Client.ID, ClientSecret: cs.Secret, TokenURL: e.base + "/oauth2/token",
				Scopes: []string{"orders:read"}, AuthStyle: tc.style,
				EndpointParams: url.Values{"resource": {"spiffe://example.org/billing"}},
			}
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, e.httpClient())
			tok, err := cfg.Token(ctx)
			if err != nil {
				t.Fatalf("clientcredentials: %v", err)
			}
			if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 4*time.Minute {
				t.Errorf("token type %q, expiry %v", tok.TokenType, tok.Expiry)
			}
			c := verifyWithJWKS(t, e, tok.AccessToken)
			if c.ClientID != cs.Client.ID || c.Subject != "spiffe://example.org/orders" ||
				c.Issuer != e.URL() || !c.Audience.Contains("spiffe://example.org/billing") {
				t.Errorf("claims %+v", c)
			}

			// A wrong secret through the same library is a 401
			// invalid_client.
			cfg.ClientSecret = cs.Secret[:len(cs.Secret)-1] + "A"
			if cfg.ClientSecret == cs.Secret {
				cfg.ClientSecret = cs.Secret[:len(cs.Secret)-1] + "B"
			}
			_, err = cfg.Token(ctx)
			var re *oauth2.RetrieveError
			if !asRetrieve(err, &re) || re.Response.StatusCode != http.StatusUnauthorized || re.ErrorCode != "invalid_client" {
				t.Errorf("wrong secret: %v", err)
			}
		})
	}
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	if !ok {
		return false
	}
	*re = r
	return true
}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

type tokenClaims struct {
	jwt.Claims
	ClientID string         `json:"client_id"`
	Scope    string         `json:"scope"`
	Cnf      map[string]any `json:"cnf"`
}

// verifyWithJWKS fetches the JWKS over HTTPS and verifies tok with go-jose.
func verifyWithJWKS(t *testing.T, e *oauthEnv, tok string) tokenClaims {
	t.Helper()
	resp, err := e.httpClient().Get(e.base + "/oauth2/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s not in the JWKS", parsed.Headers[0].KeyID)
	}
	var c tokenClaims
	if err := parsed.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return c
}

func TestOAuthMetadataOverHTTPS(t *testing.T) {
	e := newOAuthEnv(t)
	resp, err := e.httpClient().Get(e.base + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	iss := e.URL() // the listen address, which the certificate names
	want := map[string]any{"issuer": iss, "token_endpoint": iss + "/oauth2/token", "jwks_uri": iss + "/oauth2/jwks",
		"introspection_endpoint": iss + "/oauth2/introspect", "revocation_endpoint": iss + "/oauth2/revoke"}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("%s = %v, want %v", k, md[k], v)
		}
	}
}

func TestOAuthTLSClientAuthOverTheListener(t *testing.T) {
	e := newOAuthEnv(t)
	cs := e.createClient(t, api.ClientCreate{EntryID: e.entry.ID, AuthMethod: "tls_client_auth",
		Audiences: []string{"spiffe://example.org/billing"}})
	if cs.Secret != "" {
		t.Error("a tls_client_auth client got a secret")
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	svid, err := e.CA().MintX509SVID(t.Context(), ca.X509Params{CSR: csr, SPIFFEID: spiffeid.RequireFromString("spiffe://example.org/orders")})
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: svid.Certificates[0]}
	for _, c := range svid.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	resp, err := e.httpClient(cert).PostForm(e.base+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(body, &tr)
	c := verifyWithJWKS(t, e, tr.AccessToken)
	sum := sha256.Sum256(svid.Certificates[0].Raw)
	if c.Cnf["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Errorf("cnf %v, want the certificate's thumbprint", c.Cnf)
	}
}

func TestClientRoutes(t *testing.T) {
	e := newOAuthEnv(t)
	created := e.createClient(t, api.ClientCreate{EntryID: e.entry.ID, Scopes: []string{"orders:read"},
		Audiences: []string{"https://api.example.org"}, Description: "orders calling billing"})
	id := created.Client.ID

	var got api.Client
	if code := e.do(t, "GET", "/v1/clients/"+id, e.token, nil, &got); code != http.StatusOK {
		t.Fatalf("get: %d", code)
	}
	if d := cmp.Diff(created.Client, got); d != "" {
		t.Errorf("get mismatch (-created +got):\n%s", d)
	}
	var list api.ClientList
	if code := e.do(t, "GET", "/v1/clients?entry_id="+e.entry.ID, e.token, nil, &list); code != http.StatusOK || len(list.Clients) != 1 {
		t.Errorf("list: %d, %d clients", code, len(list.Clients))
	}
	var rotated api.ClientSecret
	overlap := api.Duration(10 * time.Minute)
	if code := e.do(t, "POST", "/v1/clients/"+id+"/secret", e.token, api.SecretRotate{Overlap: &overlap}, &rotated); code != http.StatusOK {
		t.Fatalf("rotate: %d", code)
	}
	if rotated.Secret == "" || rotated.Secret == created.Secret || len(rotated.Client.Secrets) != 2 {
		t.Errorf("rotate gave %+v", rotated.Client.Secrets)
	}

	var problem api.Problem
	tests := []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"unknown client", "GET", "/v1/clients/ci_none", nil, http.StatusNotFound, ""},
		{"scope beyond the entry", "POST", "/v1/clients", api.ClientCreate{EntryID: e.entry.ID, Scopes: []string{"root"},
			Audiences: []string{"https://a.example"}}, http.StatusBadRequest, "scopes"},
		{"unknown entry", "POST", "/v1/clients", api.ClientCreate{EntryID: "nope", Audiences: []string{"https://a.example"}},
			http.StatusBadRequest, "entry_id"},
		{"key on a secret client", "POST", "/v1/clients/" + id + "/keys", json.RawMessage(`{"kty":"EC"}`), http.StatusBadRequest, "auth_method"},
		{"remove an unknown key", "DELETE", "/v1/clients/" + id + "/keys/nokey", nil, http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			problem = api.Problem{}
			if code := e.do(t, tc.method, tc.path, e.token, tc.body, &problem); code != tc.status || problem.Field != tc.field {
				t.Errorf("%d %+v, want %d for field %q", code, problem, tc.status, tc.field)
			}
		})
	}
	if code := e.do(t, "POST", "/v1/clients/"+id+"/revoke-tokens", e.token, api.ClientTokensRevoke{Reason: "test"}, nil); code != http.StatusNoContent {
		t.Errorf("revoke tokens: %d", code)
	}
	if code := e.do(t, "DELETE", "/v1/clients/"+id, e.token, nil, nil); code != http.StatusNoContent {
		t.Errorf("delete: %d", code)
	}
	if code := e.do(t, "GET", "/v1/clients/"+id, e.token, nil, nil); code != http.StatusNotFound {
		t.Errorf("get after delete: %d", code)
	}
}

// TestOAuthConfiguredIssuer serves the metadata under the public issuer
// an operator configured, and refuses an issuer RFC 8414 does not allow.
func TestOAuthConfiguredIssuer(t *testing.T) {
	ts := startServer(t, "example.org", func(c *Config) { c.OAuthIssuer = "https://auth.example.org/" })
	roots := x509.NewCertPool()
	for _, c := range ts.CA().X509Authorities() {
		roots.AddCert(c)
	}
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	resp, err := cl.Get("https://" + ts.Addr() + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	if md["issuer"] != "https://auth.example.org" || md["token_endpoint"] != "https://auth.example.org/oauth2/token" {
		t.Errorf("metadata issuer %v, token endpoint %v", md["issuer"], md["token_endpoint"])
	}
	for _, bad := range []string{"http://auth.example.org", "https://auth.example.org/?x=1", "https://auth.example.org/#f", "auth.example.org"} {
		_, err := New(t.Context(), Config{TrustDomain: "example.org", ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), OAuthIssuer: bad})
		if err == nil {
			t.Errorf("issuer %q accepted", bad)
		}
	}
}
