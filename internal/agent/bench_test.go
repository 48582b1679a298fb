package agent

import (
	"context"
	"testing"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/agentproto"
)

// benchAgent starts an agent with one entry for this process.
func benchAgent(b *testing.B) *runningAgent {
	clock := newTestClock()
	fs := newFakeServer(b, clock)
	r := startAgent(b, newTestConfig(b, fs, clock))
	e := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/bench", Selectors: []string{ownUIDSelector()}})
	r.awaitEntry(b, e.ID)
	return r
}

// BenchmarkFetchX509SVID measures one FetchX509SVID call through the
// socket with go-spiffe's client on an open connection: attestation of the
// caller (/proc reads, cached executable digest), entry matching, the
// cached SVID, and the gRPC stream.
func BenchmarkFetchX509SVID(b *testing.B) {
	r := benchAgent(b)
	ctx := context.Background()
	c, err := workloadapi.New(ctx, clientOptions(r))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.FetchX509SVID(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.FetchX509SVID(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFetchX509SVIDNewConnection is BenchmarkFetchX509SVID with a
// new client, and so a new connection and peer-credential handshake, per
// call, as workloadapi.FetchX509SVID does.
func BenchmarkFetchX509SVIDNewConnection(b *testing.B) {
	r := benchAgent(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := workloadapi.FetchX509SVID(ctx, clientOptions(r)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFetchJWTSVID measures a cached JWT-SVID fetch.
func BenchmarkFetchJWTSVID(b *testing.B) {
	r := benchAgent(b)
	ctx := context.Background()
	c, err := workloadapi.New(ctx, clientOptions(r))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "api"}); err != nil {
			b.Fatal(err)
		}
	}
}
