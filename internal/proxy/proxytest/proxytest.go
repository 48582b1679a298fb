// Package proxytest builds the fixtures of data-plane tests: certificate
// authorities of an own, a federated and an untrusted trust domain (real
// internal/ca CAs on an in-memory journal), X509-SVIDs, access tokens
// signed like the token service's (and deliberately broken ones), DPoP
// proofs, and static fakes of the data plane's view. It is for tests only.
package proxytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/ca/catest"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/revocation"
)

// Issuer is the token issuer of the fixtures.
const Issuer = "https://kith.test"

// Trust domains of the fixtures.
var (
	// Own is the own trust domain.
	Own = spiffeid.RequireTrustDomainFromString("example.org")
	// Partner is a federated trust domain.
	Partner = spiffeid.RequireTrustDomainFromString("partner.example")
	// Evil is a trust domain nobody trusts.
	Evil = spiffeid.RequireTrustDomainFromString("evil.example")
)

// Env holds the CAs, the token key and the view fakes of one test.
type Env struct {
	OwnCA, PartnerCA, EvilCA *ca.CA
	// Revocations is the revocation set the fakes hold.
	Revocations *revocation.Set
	// Engine is the policy engine the fakes hold.
	Engine *policy.Engine
	// Bundles holds the own bundle; AddPartner adds the federated one.
	Bundles *x509bundle.Set

	tb       testing.TB
	tokenKey *ecdsa.PrivateKey
	otherKey *ecdsa.PrivateKey
}

// New returns an Env; policies is loaded as revision 1.
func New(tb testing.TB, policies ...policy.Document) *Env {
	tb.Helper()
	e := &Env{tb: tb, OwnCA: catest.New(tb, Own), PartnerCA: catest.New(tb, Partner), EvilCA: catest.New(tb, Evil)}
	var err error
	if e.Revocations, err = revocation.New(tb.Context(), revocation.Config{}); err != nil {
		tb.Fatal(err)
	}
	if e.Engine, err = policy.New(policy.Config{}); err != nil {
		tb.Fatal(err)
	}
	if len(policies) > 0 {
		if err := e.Engine.Load(1, policies); err != nil {
			tb.Fatal(err)
		}
	}
	e.Bundles = x509bundle.NewSet(e.OwnCA.Bundle().X509Bundle())
	e.tokenKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e.otherKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return e
}

// AddPartner adds the federated domain's bundle to Bundles.
func (e *Env) AddPartner() { e.Bundles.Add(e.PartnerCA.Bundle().X509Bundle()) }

// Keys returns the token service's public keys.
func (e *Env) Keys() authn.StaticKeys {
	return authn.StaticKeys{Keys: []jose.JSONWebKey{{Key: e.tokenKey.Public(), KeyID: "tk1", Algorithm: "ES256", Use: "sig"}}}
}

// Revoke applies a revocation to Revocations.
func (e *Env) Revoke(kind revocation.Kind, value string) {
	e.Revocations.Apply(revocation.Entry{Kind: kind, Value: value, RevokedAt: time.Now().Add(time.Minute), Revision: e.Revocations.Revision() + 1})
}

// SVID mints an X509-SVID for spiffe://<td>/<path> by the CA of td.
func (e *Env) SVID(id spiffeid.ID) *x509svid.SVID {
	e.tb.Helper()
	c := map[spiffeid.TrustDomain]*ca.CA{Own: e.OwnCA, Partner: e.PartnerCA, Evil: e.EvilCA}[id.TrustDomain()]
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		e.tb.Fatal(err)
	}
	s, err := c.MintX509SVID(e.tb.Context(), ca.X509Params{CSR: csr, SPIFFEID: id, DNSNames: []string{"localhost"}})
	if err != nil {
		e.tb.Fatal(err)
	}
	return &x509svid.SVID{ID: s.ID, Certificates: s.Certificates, PrivateKey: key}
}

// Claims are the claims of a fixture token; zero fields get defaults.
type Claims struct {
	Issuer, Subject, ClientID, JTI, Scope, ACR string
	Audience                                   []string
	IssuedAt, Expiry                           time.Time
	// BindCert binds the token to this certificate (cnf.x5t#S256).
	BindCert *x509.Certificate
	// BindKey binds the token to this DPoP key (cnf.jkt).
	BindKey crypto.Signer
}

// Signing of [Env.Token].
const (
	SignGood  = iota // the token service's key
	SignOther        // another key with the same kid (re-signed)
	SignNone         // alg "none"
)

// Token returns an access token with claims c for audience aud, signed as
// sign says.
func (e *Env) Token(c Claims, aud string, sign int) string {
	e.tb.Helper()
	now := time.Now()
	if c.Issuer == "" {
		c.Issuer = Issuer
	}
	if c.JTI == "" {
		var b [8]byte
		rand.Read(b[:])
		c.JTI = base64.RawURLEncoding.EncodeToString(b[:])
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now.Add(-time.Second)
	}
	if c.Expiry.IsZero() {
		c.Expiry = now.Add(5 * time.Minute)
	}
	if c.Audience == nil {
		c.Audience = []string{aud}
	}
	m := map[string]any{"iss": c.Issuer, "sub": c.Subject, "aud": c.Audience, "exp": c.Expiry.Unix(), "iat": c.IssuedAt.Unix(),
		"jti": c.JTI, "client_id": c.ClientID}
	if c.Scope != "" {
		m["scope"] = c.Scope
	}
	if c.ACR != "" {
		m["acr"] = c.ACR
	}
	cnf := map[string]string{}
	if c.BindCert != nil {
		sum := sha256.Sum256(c.BindCert.Raw)
		cnf["x5t#S256"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if c.BindKey != nil {
		jwk := jose.JSONWebKey{Key: c.BindKey.Public()}
		tp, _ := jwk.Thumbprint(crypto.SHA256)
		cnf["jkt"] = base64.RawURLEncoding.EncodeToString(tp)
	}
	if len(cnf) > 0 {
		m["cnf"] = cnf
	}
	payload, _ := json.Marshal(m)
	if sign == SignNone {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"tk1"}`))
		return h + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	}
	key := e.tokenKey
	if sign == SignOther {
		key = e.otherKey
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "tk1"))
	if err != nil {
		e.tb.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		e.tb.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

// DPoPProof returns a DPoP proof by key for method and url, bound to
// token.
func DPoPProof(tb testing.TB, key crypto.Signer, method, url, token string) string {
	tb.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		tb.Fatal(err)
	}
	var id [12]byte
	rand.Read(id[:])
	ath := sha256.Sum256([]byte(token))
	claims, _ := json.Marshal(map[string]any{"jti": base64.RawURLEncoding.EncodeToString(id[:]), "htm": method,
		"htu": strings.SplitN(url, "?", 2)[0], "iat": time.Now().Unix(), "ath": base64.RawURLEncoding.EncodeToString(ath[:])})
	obj, err := s.Sign(claims)
	if err != nil {
		tb.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}
