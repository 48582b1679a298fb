package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"

	kithoauth "github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/oauth/oauthtest"
	"github.com/kith-dev/kith/sdk/oauth"
)

const resourceID = "spiffe://kith.test/billing"

// resource is a resource server guarded by a Verifier, over HTTPS that
// asks for (not requires) client certificates.
type resource struct {
	url string
	v   *oauth.Verifier
}

func newResource(t *testing.T, env *oauthtest.Env, revs oauth.Revocations) *resource {
	t.Helper()
	v, err := oauth.NewVerifier(oauth.VerifierConfig{
		Issuer: env.Issuer, Audience: resourceID, HTTPClient: env.HTTPClient(), Revocations: revs, Clock: env.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := oauth.ClaimsFromContext(r.Context())
		io.WriteString(w, c.Subject+" "+strings.Join(c.Scopes, ","))
	})))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{env.SVID("billing", "localhost")}, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &resource{url: srv.URL + "/invoices", v: v}
}

// call sends GET to the resource with client hc, and returns the status
// and body.
func (rs *resource) call(t *testing.T, hc *http.Client) (int, string) {
	t.Helper()
	resp, err := hc.Get(rs.url)
	if err != nil {
		t.Fatalf("GET %s: %v", rs.url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func newEnv(t *testing.T, mutate ...func(*kithoauth.Config)) (*oauthtest.Env, kithoauth.ClientSpec) {
	env := oauthtest.New(t, mutate...)
	ent := env.Entry("orders", "invoices:read", "invoices:write")
	return env, kithoauth.ClientSpec{EntryID: ent.ID, Scopes: []string{"invoices:read"}, Audiences: []string{resourceID}}
}

func TestTokenSourceWithSecret(t *testing.T) {
	env, spec := newEnv(t)
	cl, sec := env.Client(spec)
	rs := newResource(t, env, nil) // before the clock moves: its certificate starts now
	ts, err := oauth.NewTokenSource(oauth.TokenSourceConfig{
		TokenURL: env.BaseURL + kithoauth.PathToken, ClientID: string(cl.ID), Secret: sec.Reveal(),
		HTTPClient: env.HTTPClient(), Clock: env.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	first, err := ts.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if again, _ := ts.Token(t.Context()); again != first {
		t.Error("a second call did not reuse the cached token")
	}
	env.Clock.Add(3 * time.Minute) // 60% of 5 minutes: still cached
	if again, _ := ts.Token(t.Context()); again != first {
		t.Error("the token was refreshed before 70% of its lifetime")
	}
	env.Clock.Add(75 * time.Second) // 85%: refreshed
	env.Clock.Add(time.Second)
	fresh, err := ts.Token(t.Context())
	if err != nil || fresh == first {
		t.Fatalf("the token was not refreshed at 85%% of its lifetime (%v)", err)
	}

	hc := &http.Client{Transport: ts.Transport(env.HTTPClient().Transport)}
	if code, body := rs.call(t, hc); code != http.StatusOK || body != "spiffe://kith.test/orders invoices:read" {
		t.Errorf("resource answered %d %q", code, body)
	}
}

func TestTokenSourceWithKey(t *testing.T) {
	env, spec := newEnv(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: key.Public(), KeyID: "k1", Algorithm: "ES256"})
	spec.AuthMethod, spec.Keys = "private_key_jwt", []json.RawMessage{jwk}
	cl, _ := env.Client(spec)
	ts, err := oauth.NewTokenSource(oauth.TokenSourceConfig{
		TokenURL: env.BaseURL + kithoauth.PathToken, ClientID: string(cl.ID), Key: key, KeyID: "k1",
		HTTPClient: env.HTTPClient(), Clock: env.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	rs := newResource(t, env, nil)
	if code, _ := rs.call(t, &http.Client{Transport: ts.Transport(env.HTTPClient().Transport)}); code != http.StatusOK {
		t.Errorf("resource answered %d", code)
	}
}

// jwtSource mints JWT-SVIDs from the test CA, as the Workload API would.
type jwtSource struct{ env *oauthtest.Env }

func (s jwtSource) FetchJWTSVID(_ context.Context, p jwtsvid.Params) (*jwtsvid.SVID, error) {
	return jwtsvid.ParseInsecure(s.env.JWTSVID("orders", p.Audience), []string{p.Audience})
}

func TestTokenSourceWithJWTSVID(t *testing.T) {
	env, spec := newEnv(t)
	spec.AuthMethod = "jwt_svid"
	env.Client(spec)
	ts, err := oauth.NewTokenSource(oauth.TokenSourceConfig{
		TokenURL: env.BaseURL + kithoauth.PathToken, JWTSVIDs: jwtSource{env}, HTTPClient: env.HTTPClient(), Clock: env.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	rs := newResource(t, env, nil)
	if code, body := rs.call(t, &http.Client{Transport: ts.Transport(env.HTTPClient().Transport)}); code != http.StatusOK {
		t.Errorf("resource answered %d %q", code, body)
	}
}

func TestCertificateBoundToken(t *testing.T) {
	env, spec := newEnv(t)
	spec.AuthMethod = "tls_client_auth"
	env.Client(spec)
	mine, other := env.SVID("orders"), env.SVID("orders")
	ts, err := oauth.NewTokenSource(oauth.TokenSourceConfig{
		TokenURL: env.BaseURL + kithoauth.PathToken, HTTPClient: env.HTTPClient(mine), Clock: env.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	rs := newResource(t, env, nil)
	tests := []struct {
		name string
		tr   http.RoundTripper
		want int
	}{
		{"the same certificate", env.HTTPClient(mine).Transport, http.StatusOK},
		{"another certificate", env.HTTPClient(other).Transport, http.StatusUnauthorized},
		{"no certificate", env.HTTPClient().Transport, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, _ := rs.call(t, &http.Client{Transport: ts.Transport(tc.tr)}); code != tc.want {
				t.Errorf("resource answered %d, want %d", code, tc.want)
			}
		})
	}
	tok, _ := ts.Token(t.Context())
	_, err = rs.v.VerifyToken(t.Context(), tok.AccessToken, oauth.Presentation{ClientCert: other.Leaf})
	if !errors.Is(err, oauth.ErrBinding) {
		t.Errorf("VerifyToken with another certificate: %v, want ErrBinding", err)
	}
}

func TestDPoPBoundToken(t *testing.T) {
	for _, nonce := range []bool{false, true} {
		t.Run(map[bool]string{false: "without nonce", true: "with server nonce"}[nonce], func(t *testing.T) {
			env, spec := newEnv(t, func(c *kithoauth.Config) { c.RequireDPoPNonce = nonce })
			cl, sec := env.Client(spec)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			ts, err := oauth.NewTokenSource(oauth.TokenSourceConfig{
				TokenURL: env.BaseURL + kithoauth.PathToken, ClientID: string(cl.ID), Secret: sec.Reveal(), DPoPKey: key,
				HTTPClient: env.HTTPClient(), Clock: env.Clock.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := ts.Token(t.Context())
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if tok.TokenType != "DPoP" {
				t.Fatalf("token type %q, want DPoP", tok.TokenType)
			}
			rs := newResource(t, env, nil)
			if code, body := rs.call(t, &http.Client{Transport: ts.Transport(env.HTTPClient().Transport)}); code != http.StatusOK {
				t.Fatalf("resource answered %d %q", code, body)
			}
			// The token alone, as a bearer token, is refused.
			req, _ := http.NewRequest(http.MethodGet, rs.url, nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := env.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "DPoP") {
				t.Errorf("DPoP-bound token as Bearer: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestVerifierRevocationAndErrors(t *testing.T) {
	env, spec := newEnv(t)
	cl, sec := env.Client(spec)
	rs := newResource(t, env, env.Revocations)
	ts, err := oauth.NewTokenSource(oauth.TokenSourceConfig{
		TokenURL: env.BaseURL + kithoauth.PathToken, ClientID: string(cl.ID), Secret: sec.Reveal(),
		HTTPClient: env.HTTPClient(), Clock: env.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := rs.v.VerifyToken(ctx, tok.AccessToken, oauth.Presentation{}); err != nil {
		t.Fatalf("VerifyToken: %v", err)
	}
	other, err := oauth.NewVerifier(oauth.VerifierConfig{Issuer: env.Issuer, Audience: "spiffe://kith.test/else",
		HTTPClient: env.HTTPClient(), Clock: env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.VerifyToken(ctx, tok.AccessToken, oauth.Presentation{}); !errors.Is(err, oauth.ErrInvalidToken) {
		t.Errorf("another audience: %v, want ErrInvalidToken", err)
	}
	if _, err := rs.v.VerifyToken(ctx, "e30.e30.e30", oauth.Presentation{}); !errors.Is(err, oauth.ErrInvalidToken) {
		t.Errorf("garbage: %v, want ErrInvalidToken", err)
	}

	// Revoked through the revocation endpoint: the verifier sees it at
	// once through the revocation set.
	form := url.Values{"token": {tok.AccessToken}}
	req, _ := http.NewRequest(http.MethodPost, env.BaseURL+kithoauth.PathRevoke, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(string(cl.ID), sec.Reveal())
	resp, err := env.HTTPClient().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := rs.v.VerifyToken(ctx, tok.AccessToken, oauth.Presentation{}); !errors.Is(err, oauth.ErrRevoked) {
		t.Errorf("after revocation: %v, want ErrRevoked", err)
	}

	env.Clock.Add(10 * time.Minute)
	fresh, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	env.Clock.Add(10 * time.Minute)
	if _, err := rs.v.VerifyToken(ctx, fresh.AccessToken, oauth.Presentation{}); !errors.Is(err, oauth.ErrExpired) {
		t.Errorf("expired: %v, want ErrExpired", err)
	}
	if code, _ := rs.call(t, env.HTTPClient()); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
}
