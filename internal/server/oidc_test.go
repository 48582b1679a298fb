package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/kith-dev/kith/api"
)

// TestOIDCDiscoveryWithGoOIDC: a relying party written by others
// (coreos/go-oidc, as used by Kubernetes, Dex and many OIDC clients)
// verifies a JWT-SVID from the issuer URL alone: it discovers the JWKS,
// checks the signature, iss, aud and expiry. No secret is shared.
func TestOIDCDiscoveryWithGoOIDC(t *testing.T) {
	const issuer = "https://oidc.example.test/spiffe"
	ts := startServer(t, "example.org", func(c *Config) { c.JWTIssuer = issuer })

	// The relying party reaches oidc.example.test at the server (as DNS
	// would), trusting the trust domain's roots as it would trust a Web
	// PKI: the server's certificate names the issuer's host.
	roots := x509.NewCertPool()
	for _, c := range ts.CA().Bundle().X509Authorities() {
		roots.AddCert(c)
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, ts.Addr())
		},
	}
	defer tr.CloseIdleConnections()
	ctx := oidc.ClientContext(t.Context(), &http.Client{Transport: tr, Timeout: 10 * time.Second})

	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var jwt api.JWTSVID
	if code := ts.do(t, "POST", "/v1/svids/jwt", ts.token, api.JWTSVIDMint{SPIFFEID: "spiffe://example.org/orders", Audience: []string{"sts.example.test"}}, &jwt); code != http.StatusOK {
		t.Fatalf("mint JWT-SVID: %d", code)
	}
	tok, err := provider.Verifier(&oidc.Config{ClientID: "sts.example.test"}).Verify(ctx, jwt.Token)
	if err != nil {
		t.Fatalf("go-oidc refused the JWT-SVID: %v", err)
	}
	if tok.Subject != "spiffe://example.org/orders" || tok.Issuer != issuer {
		t.Errorf("verified token: sub %q iss %q", tok.Subject, tok.Issuer)
	}
	// Another audience, or a token of another issuer, is refused.
	if _, err := provider.Verifier(&oidc.Config{ClientID: "other"}).Verify(ctx, jwt.Token); err == nil {
		t.Error("go-oidc accepted a JWT-SVID for another audience")
	}
	other := startServer(t, "example.org", func(c *Config) { c.JWTIssuer = "https://other.example.test" })
	var foreign api.JWTSVID
	if code := other.do(t, "POST", "/v1/svids/jwt", other.token, api.JWTSVIDMint{SPIFFEID: "spiffe://example.org/orders", Audience: []string{"sts.example.test"}}, &foreign); code != http.StatusOK {
		t.Fatalf("mint JWT-SVID: %d", code)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: "sts.example.test"}).Verify(ctx, foreign.Token); err == nil {
		t.Error("go-oidc accepted a JWT-SVID of another issuer (and keys)")
	}
	var claims struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&claims); err != nil || len(claims.Algs) == 0 || claims.Algs[0] != "ES256" {
		t.Errorf("discovery algorithms: %v %v", claims.Algs, err)
	}
}

// TestJWTSVIDWithoutIssuer: without JWTIssuer, as in SPIRE without
// jwt_issuer, JWT-SVIDs carry no iss and no discovery document is served.
func TestJWTSVIDWithoutIssuer(t *testing.T) {
	ts := startServer(t, "example.org")
	var jwt api.JWTSVID
	if code := ts.do(t, "POST", "/v1/svids/jwt", ts.token, api.JWTSVIDMint{SPIFFEID: "spiffe://example.org/orders", Audience: []string{"a"}}, &jwt); code != http.StatusOK {
		t.Fatalf("mint: %d", code)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt.Token, ".")[1])
	if err != nil || strings.Contains(string(payload), `"iss"`) {
		t.Errorf("JWT-SVID claims without a configured issuer: %s %v", payload, err)
	}
	if code := ts.do(t, "GET", "/.well-known/openid-configuration", "", nil, nil); code != http.StatusNotFound {
		t.Errorf("discovery without an issuer: %d, want 404", code)
	}
	if _, err := New(t.Context(), Config{TrustDomain: "example.org", ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), JWTIssuer: "http://plain.example"}); err == nil {
		t.Error("an http:// JWT issuer was accepted")
	}
}
