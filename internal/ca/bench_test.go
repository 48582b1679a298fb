package ca

import (
	"context"
	"testing"
)

// BenchmarkMintX509SVID measures one mint: CSR DER in, signed *X509SVID out
// (parse, key check, proof of possession, sign, parse the leaf).
func BenchmarkMintX509SVID(b *testing.B) {
	c, p := benchCA(b)
	for b.Loop() {
		if _, err := c.MintX509SVID(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMintX509SVIDParallel mints from GOMAXPROCS goroutines at once.
func BenchmarkMintX509SVIDParallel(b *testing.B) {
	c, p := benchCA(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.MintX509SVID(context.Background(), p); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMintJWTSVID measures one JWT-SVID.
func BenchmarkMintJWTSVID(b *testing.B) {
	c, _ := benchCA(b)
	p := JWTParams{SPIFFEID: mustID(b, "spiffe://example.org/bench"), Audience: []string{"svc"}}
	for b.Loop() {
		if _, _, err := c.MintJWTSVID(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCA(b *testing.B) (*CA, X509Params) {
	b.Helper()
	c := newEnv(b).newCA(b)
	b.ReportAllocs()
	return c, X509Params{
		CSR:      newCSR(b, newKey(b, "p256"), nil),
		SPIFFEID: mustID(b, "spiffe://example.org/bench"),
	}
}
