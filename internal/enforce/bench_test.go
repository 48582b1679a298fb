package enforce_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy/proxytest"
)

// BenchmarkCheck measures the request path of one call from orders to
// target: a client certificate alone, with a Bearer token bound to it
// (verifications reused from the caches, and not), and with a DPoP-bound
// token and a fresh proof on every call.
func BenchmarkCheck(b *testing.B) {
	env := proxytest.New(b, policy.Document{Name: "payments", Target: target.String(), Rules: []policy.Rule{
		{Name: "api", From: policy.From{SPIFFEIDs: []string{orders.String()}}, To: policy.To{Paths: []string{"/api/*"}}, Action: policy.ActionAllow},
	}})
	newEnforcer := func(b *testing.B, ttl time.Duration) *enforce.Enforcer {
		enf, err := enforce.New(enforce.Config{Target: target, Bundles: env.Bundles, Revocations: env.Revocations,
			Policy: env.Engine, Issuer: proxytest.Issuer, Keys: env.Keys(), CacheTTL: ttl})
		if err != nil {
			b.Fatal(err)
		}
		return enf
	}
	svid := env.SVID(orders)
	bound := env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders", Scope: "read",
		Expiry: time.Now().Add(time.Hour), BindCert: svid.Certificates[0]}, target.String(), proxytest.SignGood)
	run := func(b *testing.B, enf *enforce.Enforcer, r *http.Request) {
		b.ReportAllocs()
		for b.Loop() {
			if res := enf.Check(r); res.Reason != "" {
				b.Fatalf("refused: %s (%v)", res.Reason, res.Err)
			}
		}
	}
	b.Run("cert", func(b *testing.B) { run(b, newEnforcer(b, 0), request(svid, "")) })
	b.Run("cert+bearer", func(b *testing.B) { run(b, newEnforcer(b, 0), request(svid, bound)) })
	b.Run("cert+bearer-uncached", func(b *testing.B) { run(b, newEnforcer(b, -1), request(svid, bound)) })
	b.Run("cert+dpop", func(b *testing.B) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		tok := env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders", Scope: "read",
			Expiry: time.Now().Add(time.Hour), BindKey: key}, target.String(), proxytest.SignGood)
		const url = "https://payments.example/api/x"
		// Proofs are signed ahead, outside the timed loop: signing is the
		// caller's work, and a proof is good for one call only.
		proofs := make([]string, 2048)
		sign := func() {
			for i := range proofs {
				proofs[i] = proxytest.DPoPProof(b, key, http.MethodGet, url, tok)
			}
		}
		sign()
		enf := newEnforcer(b, 0)
		r := request(svid, "")
		r.Header.Set("Authorization", "DPoP "+tok)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == len(proofs) {
				b.StopTimer()
				sign()
				i = 0
				b.StartTimer()
			}
			r.Header["Dpop"] = proofs[i : i+1]
			i++
			if res := enf.Check(r); res.Reason != "" {
				b.Fatalf("refused: %s (%v)", res.Reason, res.Err)
			}
		}
	})
}
