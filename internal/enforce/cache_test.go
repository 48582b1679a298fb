package enforce_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy/proxytest"
	"github.com/kith-dev/kith/internal/revocation"
)

var (
	target = spiffeid.RequireFromPath(proxytest.Own, "/payments")
	orders = spiffeid.RequireFromPath(proxytest.Own, "/orders")
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingKeys counts the token signatures verified (one key lookup each).
type countingKeys struct {
	authn.KeySource
	n atomic.Int64
}

func (k *countingKeys) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	k.n.Add(1)
	return k.KeySource.Key(ctx, kid)
}

// fixture is an Enforcer for target on a settable clock, with a policy
// allowing orders on /api/*.
type fixture struct {
	env   *proxytest.Env
	enf   *enforce.Enforcer
	clock *clock
	keys  *countingKeys
}

func newFixture(t *testing.T, ttl time.Duration) *fixture {
	t.Helper()
	env := proxytest.New(t, policy.Document{Name: "payments", Target: target.String(), Rules: []policy.Rule{
		{Name: "api", From: policy.From{SPIFFEIDs: []string{orders.String()}}, To: policy.To{Paths: []string{"/api/*"}}, Action: policy.ActionAllow},
	}})
	f := &fixture{env: env, clock: &clock{now: time.Now()}, keys: &countingKeys{KeySource: env.Keys()}}
	var err error
	f.enf, err = enforce.New(enforce.Config{Target: target, Bundles: env.Bundles, Revocations: env.Revocations,
		Policy: env.Engine, Issuer: proxytest.Issuer, Keys: f.keys, Clock: f.clock.Now, CacheTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// request returns a call to /api/x over svid with the Bearer token tok.
func request(svid *x509svid.SVID, tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://payments.example/api/x", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: svid.Certificates}
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}

func wantReason(t *testing.T, step string, res *enforce.Result, want enforce.Reason) {
	t.Helper()
	if res.Reason != want {
		t.Fatalf("%s: reason %q (err %v), want %q", step, res.Reason, res.Err, want)
	}
}

// TestCachedTokenRefused checks that a token verified once and cached is
// refused on a later call once it is revoked (by jti, client or subject),
// expired, or presented over another certificate than the one it is
// bound to; and that the cache did spare the second verification.
func TestCachedTokenRefused(t *testing.T) {
	tests := []struct {
		name string
		// change happens between the first (allowed) and second call.
		change func(f *fixture, c proxytest.Claims)
		// other presents the token over another SVID of orders.
		other bool
		want  enforce.Reason
	}{
		{name: "still good", change: func(*fixture, proxytest.Claims) {}},
		{name: "jti revoked", change: func(f *fixture, c proxytest.Claims) { f.env.Revoke(revocation.KindJTI, c.JTI) }, want: enforce.ReasonRevokedToken},
		{name: "client revoked", change: func(f *fixture, c proxytest.Claims) { f.env.Revoke(revocation.KindClientID, c.ClientID) }, want: enforce.ReasonRevokedToken},
		{name: "expired", change: func(f *fixture, c proxytest.Claims) { f.clock.Add(4 * time.Minute) }, want: enforce.ReasonExpiredToken},
		{name: "bound to another certificate", change: func(*fixture, proxytest.Claims) {}, other: true, want: enforce.ReasonTokenBinding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, time.Hour) // a long TTL: expiry must bite anyway
			svid := f.env.SVID(orders)
			now := f.clock.Now()
			c := proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders", JTI: "jti-" + tt.name, Scope: "read",
				IssuedAt: now.Add(-time.Second), Expiry: now.Add(2 * time.Minute), BindCert: svid.Certificates[0]}
			tok := f.env.Token(c, target.String(), proxytest.SignGood)
			wantReason(t, "first call", f.enf.Check(request(svid, tok)), "")
			tt.change(f, c)
			second := svid
			if tt.other {
				second = f.env.SVID(orders)
			}
			wantReason(t, "second call", f.enf.Check(request(second, tok)), tt.want)
			if tt.want == "" || tt.want == enforce.ReasonRevokedToken || tt.other {
				if n := f.keys.n.Load(); n != 1 {
					t.Errorf("token signature verified %d times, want once (cached)", n)
				}
			}
		})
	}
}

// TestCacheOff checks that a negative CacheTTL verifies every token.
func TestCacheOff(t *testing.T) {
	f := newFixture(t, -1)
	svid := f.env.SVID(orders)
	tok := f.env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders"}, target.String(), proxytest.SignGood)
	for range 3 {
		wantReason(t, "call", f.enf.Check(request(svid, tok)), "")
	}
	if n := f.keys.n.Load(); n != 3 {
		t.Errorf("token signature verified %d times, want 3", n)
	}
}

// TestCachedPeerRefused checks that a client certificate verified once is
// refused on a later call once it (or its SPIFFE ID) is revoked, or once
// its trust domain loses its bundle.
func TestCachedPeerRefused(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *fixture, svid *x509svid.SVID)
		want   enforce.Reason
	}{
		{name: "still good", change: func(*fixture, *x509svid.SVID) {}},
		{name: "serial revoked", change: func(f *fixture, s *x509svid.SVID) {
			f.env.Revoke(revocation.KindX509Serial, s.Certificates[0].SerialNumber.Text(16))
		}, want: enforce.ReasonRevokedClientCert},
		{name: "SPIFFE ID revoked", change: func(f *fixture, s *x509svid.SVID) {
			f.env.Revoke(revocation.KindSPIFFEID, orders.String())
		}, want: enforce.ReasonRevokedClientCert},
		{name: "bundle removed", change: func(f *fixture, s *x509svid.SVID) {
			f.env.Bundles.Remove(proxytest.Own)
		}, want: enforce.ReasonUntrustedDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, time.Hour)
			svid := f.env.SVID(orders)
			wantReason(t, "first call", f.enf.Check(request(svid, "")), "")
			tt.change(f, svid)
			wantReason(t, "second call", f.enf.Check(request(svid, "")), tt.want)
		})
	}
}

// TestCachedDPoPToken checks that a DPoP-bound token is verified once
// and then taken from the cache, while every call still needs a fresh
// proof of its key for that call: a replayed proof, a proof by another
// key and the Bearer scheme are refused.
func TestCachedDPoPToken(t *testing.T) {
	f := newFixture(t, time.Hour)
	svid := f.env.SVID(orders)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	tok := f.env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders", Scope: "read",
		IssuedAt: now.Add(-time.Second), Expiry: now.Add(2 * time.Minute), BindKey: key}, target.String(), proxytest.SignGood)
	const url = "https://payments.example/api/x"
	call := func(scheme, proof string) *enforce.Result {
		r := request(svid, "")
		r.Header.Set("Authorization", scheme+" "+tok)
		if proof != "" {
			r.Header.Set("DPoP", proof)
		}
		return f.enf.Check(r)
	}
	wantReason(t, "first call", call("DPoP", proxytest.DPoPProof(t, key, "GET", url, tok)), "")
	proof := proxytest.DPoPProof(t, key, "GET", url, tok)
	wantReason(t, "second call, fresh proof", call("DPoP", proof), "")
	if n := f.keys.n.Load(); n != 1 {
		t.Errorf("token signature verified %d times, want once (cached)", n)
	}
	wantReason(t, "replayed proof", call("DPoP", proof), enforce.ReasonTokenBinding)
	wantReason(t, "proof by another key", call("DPoP", proxytest.DPoPProof(t, other, "GET", url, tok)), enforce.ReasonTokenBinding)
	wantReason(t, "proof for another request", call("DPoP", proxytest.DPoPProof(t, key, "POST", url, tok)), enforce.ReasonTokenBinding)
	wantReason(t, "no proof", call("DPoP", ""), enforce.ReasonTokenBinding)
	wantReason(t, "Bearer scheme", call("Bearer", ""), enforce.ReasonTokenBinding)
}

// issuerVar is a settable enforce.IssuerSource.
type issuerVar struct{ v atomic.Value }

func (i *issuerVar) Issuer() string { s, _ := i.v.Load().(string); return s }

// TestIssuerChanges: with an IssuerSource, an issuer published after start
// takes effect, and a token cached under one issuer is refused once the
// issuer changes.
func TestIssuerChanges(t *testing.T) {
	env := proxytest.New(t, policy.Document{Name: "payments", Target: target.String(), Rules: []policy.Rule{
		{Name: "api", From: policy.From{SPIFFEIDs: []string{orders.String()}}, Action: policy.ActionAllow},
	}})
	iss := &issuerVar{}
	enf, err := enforce.New(enforce.Config{Target: target, Bundles: env.Bundles, Revocations: env.Revocations,
		Policy: env.Engine, Issuers: iss, Keys: env.Keys(), CacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	svid := env.SVID(orders)
	tok := env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders"}, target.String(), proxytest.SignGood)
	wantReason(t, "no issuer yet", enf.Check(request(svid, tok)), enforce.ReasonInvalidToken)
	iss.v.Store(proxytest.Issuer)
	wantReason(t, "issuer published", enf.Check(request(svid, tok)), "")
	wantReason(t, "cached", enf.Check(request(svid, tok)), "")
	iss.v.Store("https://kith.elsewhere.example")
	wantReason(t, "issuer changed", enf.Check(request(svid, tok)), enforce.ReasonInvalidToken)
	iss.v.Store(proxytest.Issuer)
	wantReason(t, "issuer back", enf.Check(request(svid, tok)), "")
}
