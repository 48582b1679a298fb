package authn_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/kith-dev/kith/internal/authn"
)

func TestPresented(t *testing.T) {
	cert := &x509.Certificate{Raw: []byte("cert")}
	req := func(authz string, dpop ...string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "https://api.example/x%2Fy?q=1", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		for _, p := range dpop {
			r.Header.Add("DPoP", p)
		}
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
		return r
	}
	tests := []struct {
		name  string
		r     *http.Request
		urlOf func(*http.Request) string
		tok   string
		want  authn.Presentation
		err   error
	}{
		{name: "Bearer", r: req("Bearer tok "), tok: "tok", want: authn.Presentation{ClientCert: cert}},
		{name: "bearer", r: req("bearer tok"), tok: "tok", want: authn.Presentation{ClientCert: cert}},
		{name: "DPoP", r: req("DPoP tok", "proof"), tok: "tok",
			want: authn.Presentation{ClientCert: cert, DPoP: true, DPoPProof: "proof", Method: "POST", URL: "https://api.example/x%2Fy"}},
		{name: "DPoP with two proofs", r: req("DPoP tok", "p1", "p2"), tok: "tok",
			want: authn.Presentation{ClientCert: cert, DPoP: true, Method: "POST", URL: "https://api.example/x%2Fy"}},
		{name: "DPoP, URL given", r: req("DPoP tok", "proof"), urlOf: func(*http.Request) string { return "https://front.example/x" }, tok: "tok",
			want: authn.Presentation{ClientCert: cert, DPoP: true, DPoPProof: "proof", Method: "POST", URL: "https://front.example/x"}},
		{name: "no Authorization", r: req(""), err: authn.ErrNoToken},
		{name: "Basic", r: req("Basic eDp5"), err: authn.ErrNoToken},
		{name: "no token", r: req("Bearer "), err: authn.ErrNoToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, p, err := authn.Presented(tt.r, tt.urlOf)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Presented = %v, want %v", err, tt.err)
			}
			if tok != tt.tok || p != tt.want {
				t.Errorf("Presented = %q, %+v; want %q, %+v", tok, p, tt.tok, tt.want)
			}
		})
	}
}

func TestCheckBinding(t *testing.T) {
	k := newTokenKey(t, "k1")
	v := newTokenVerifier(t, authn.StaticKeys{Keys: []jose.JSONWebKey{k.jwk()}}, nil)
	mine, other := &x509.Certificate{Raw: []byte("mine")}, &x509.Certificate{Raw: []byte("other")}
	key, otherKey := newDPoPKey(t), newDPoPKey(t)
	const url = "https://api.example/x"
	certBound := k.sign(t, "at+jwt", claims(map[string]any{"cnf": map[string]string{"x5t#S256": authn.TokenHash("mine")}}))
	dpopBound := k.sign(t, "at+jwt", claims(map[string]any{"cnf": map[string]string{"jkt": key.jkt(t)}}))
	bearer := k.sign(t, "at+jwt", claims(nil))
	dpop := func(proof string) authn.Presentation {
		return authn.Presentation{DPoP: true, DPoPProof: proof, Method: "GET", URL: url}
	}
	replayed := key.proof(t, "GET", url, dpopBound, t0)
	tests := []struct {
		name  string
		token string
		p     authn.Presentation
		ok    bool
	}{
		{"bearer", bearer, authn.Presentation{ClientCert: other}, true},
		{"bearer with the DPoP scheme", bearer, dpop(key.proof(t, "GET", url, bearer, t0)), false},
		{"over its certificate", certBound, authn.Presentation{ClientCert: mine}, true},
		{"over another certificate", certBound, authn.Presentation{ClientCert: other}, false},
		{"without a certificate", certBound, authn.Presentation{}, false},
		{"with a fresh proof", dpopBound, dpop(replayed), true},
		{"with the same proof again", dpopBound, dpop(replayed), false},
		{"with the Bearer scheme", dpopBound, authn.Presentation{}, false},
		{"without a proof", dpopBound, dpop(""), false},
		{"with a proof by another key", dpopBound, dpop(otherKey.proof(t, "GET", url, dpopBound, t0)), false},
		{"with a proof for another request", dpopBound, dpop(key.proof(t, "POST", url, dpopBound, t0)), false},
		{"with a proof for another token", dpopBound, dpop(key.proof(t, "GET", url, bearer, t0)), false},
		{"with a stale proof", dpopBound, dpop(key.proof(t, "GET", url, dpopBound, t0.Add(-2*time.Minute))), false},
		{"with a malformed proof", dpopBound, dpop("e30.e30.e30"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Parse(t.Context(), tt.token, t0)
			if err != nil {
				t.Fatal(err)
			}
			err = v.CheckBinding(c, tt.token, tt.p, t0)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, authn.ErrBinding)) {
				t.Errorf("CheckBinding = %v, want ok %v", err, tt.ok)
			}
		})
	}
	t.Run("replay store error", func(t *testing.T) {
		full := errors.New("full")
		v := newTokenVerifier(t, authn.StaticKeys{Keys: []jose.JSONWebKey{k.jwk()}}, func(c *authn.TokenConfig) {
			c.Replay = replayFunc(func(string, time.Time, time.Time) (bool, error) { return false, full })
		})
		_, err := v.Verify(t.Context(), dpopBound, dpop(key.proof(t, "GET", url, dpopBound, t0)), t0)
		if !errors.Is(err, authn.ErrBinding) || !errors.Is(err, full) {
			t.Errorf("Verify = %v, want ErrBinding wrapping the store's error", err)
		}
	})
}
