package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/ca"
)

// mtlsHandshake has client (a workload's SVID) connect to a go-spiffe
// server whose authorizer consults rev through authn.Authorizer; it
// returns the server's verdict.
func mtlsHandshake(t *testing.T, bundle x509bundle.Source, server, client x509svid.Source, rev authn.RevocationChecker) error {
	t.Helper()
	sc := tlsconfig.MTLSServerConfig(server, bundle, authn.Authorizer(rev, tlsconfig.AuthorizeAny()))
	cc := tlsconfig.MTLSClientConfig(client, bundle, tlsconfig.AuthorizeAny())
	a, b := net.Pipe()
	errc := make(chan error, 1)
	go func() {
		c := tls.Client(a, cc)
		err := c.Handshake()
		if err == nil {
			_, err = c.Read(make([]byte, 1))
		}
		a.Close()
		errc <- err
	}()
	s := tls.Server(b, sc)
	err := s.Handshake()
	if err == nil {
		s.Write([]byte{1})
	}
	b.Close()
	<-errc
	return err
}

// serverSVID mints an SVID for a verifier in the fake's trust domain.
func (fs *fakeServer) serverSVID(t *testing.T, path string) *x509svid.SVID {
	t.Helper()
	key, csr, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := fs.ca.MintX509SVID(t.Context(), ca.X509Params{CSR: csr, SPIFFEID: spiffeid.RequireFromPath(fs.td, path)})
	if err != nil {
		t.Fatal(err)
	}
	return &x509svid.SVID{ID: s.ID, Certificates: s.Certificates, PrivateKey: key}
}

// TestRevocationReachesVerifier revokes a workload's identity at the
// server and shows the revocation reaching the agent, a go-spiffe TLS
// verifier using internal/authn refusing the unexpired SVID, and the
// workload receiving a replacement.
func TestRevocationReachesVerifier(t *testing.T) {
	tests := []struct {
		name string
		kind string
		// wait moves the fake clock past the CA's 10s backdating, after
		// which a fresh SVID is no longer covered by a SPIFFE ID cut-off.
		wait time.Duration
	}{
		{"serial", "x509_serial", 0},
		{"SPIFFE ID", "spiffe_id", 11 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			fs := newFakeServer(t, clock)
			r := startAgent(t, newTestConfig(t, fs, clock))
			e := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/web", Selectors: []string{ownUIDSelector()}})
			r.awaitEntry(t, e.ID)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(clientOptions(r)))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			old, _ := src.GetX509SVID()
			verifier := fs.serverSVID(t, "/verifier")
			if err := mtlsHandshake(t, src, verifier, src, r.Agent); err != nil {
				t.Fatalf("handshake before revocation: %v", err)
			}

			value := e.SPIFFEID
			if tt.kind == "x509_serial" {
				value = old.Certificates[0].SerialNumber.Text(16)
			}
			start := time.Now()
			fs.revoke(tt.kind, value)
			fixed := x509svid.SVID(*old)
			eventually(t, "refusal", r.changed.wait, func() bool {
				return errors.Is(mtlsHandshake(t, src, verifier, &fixed, r.Agent), authn.ErrRevoked)
			})
			t.Logf("revocation enforced %v after it was written", time.Since(start))
			if !time.Now().Before(old.Certificates[0].NotAfter) {
				t.Fatal("the SVID expired; the test proves nothing")
			}

			clock.Add(tt.wait)
			eventually(t, "a replacement SVID", src.Updated, func() bool {
				cur, _ := src.GetX509SVID()
				return cur.Certificates[0].SerialNumber.Cmp(old.Certificates[0].SerialNumber) != 0 &&
					authn.CheckX509SVID(r.Agent, cur.ID, cur.Certificates[0]) == nil
			})
			if err := mtlsHandshake(t, src, verifier, src, r.Agent); err != nil {
				t.Errorf("handshake with the replacement: %v", err)
			}
		})
	}
}

// TestRotation moves the clock past half the SVIDs' lifetime, then through
// a CA rotation: the workload receives the new bundle before the new key
// signs, and then an SVID signed by the new key, without reconnecting.
func TestRotation(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	r := startAgent(t, newTestConfig(t, fs, clock))
	e := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/web", Selectors: []string{ownUIDSelector()}})
	r.awaitEntry(t, e.ID) // the stream's first call must not end with "no identity"
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(clientOptions(r)))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	first, _ := src.GetX509SVID()
	roots := func() []*x509.Certificate {
		b, err := src.GetX509BundleForTrustDomain(fs.td)
		if err != nil {
			t.Fatal(err)
		}
		return b.X509Authorities()
	}
	if n := len(roots()); n != 1 {
		t.Fatalf("roots = %d, want 1", n)
	}
	agentSVID := r.ident.get()

	clock.Add(14 * time.Hour) // past half (±10%) of the SVIDs' 24h and of the CA key's
	eventually(t, "renewal at half-life", src.Updated, func() bool {
		cur, _ := src.GetX509SVID()
		return cur.Certificates[0].SerialNumber.Cmp(first.Certificates[0].SerialNumber) != 0
	})
	eventually(t, "agent SVID renewal", r.changed.wait, func() bool { return r.ident.get() != agentSVID })

	fs.rotate() // prepares the next key and publishes it
	eventually(t, "the prepared root", src.Updated, func() bool { return len(roots()) == 2 })
	var next *x509.Certificate // the root of the prepared key
	for _, c := range fs.ca.Bundle().X509Authorities() {
		if !signedBy(first.Certificates[0], c) {
			next = c
		}
	}
	if next == nil {
		t.Fatal("no new root in the bundle")
	}
	// Step through activation (at 20h) to the next renewal (at half the
	// remaining lifetime, at most 22.2h), as late as 23h: the old key's
	// certificate expires at 24h. After each step, a whole pass of the
	// rotation task has seen the clock: the SVID it holds then is what the
	// workload must receive.
	for i := 0; ; i++ {
		if i == 9 {
			t.Fatal("no SVID signed by the new key")
		}
		clock.Add(time.Hour)
		fs.rotate()
		r.awaitRotationPass(t)
		if held := r.svids.held(e.ID); held != nil && signedBy(held.Certificates[0], next) {
			eventually(t, "the new key's SVID at the workload", src.Updated, func() bool {
				cur, _ := src.GetX509SVID()
				return signedBy(cur.Certificates[0], next)
			})
			break
		}
	}
	if n := countMetric(t, r.metrics, "kith_agent_workload_api_requests_total"); n != 0 {
		t.Errorf("%v Workload API calls ended during the rotation; want the one stream to stay open", n)
	}
}

// signedBy reports whether leaf's signature verifies with root's key.
func signedBy(leaf, root *x509.Certificate) bool {
	return leaf.CheckSignatureFrom(root) == nil
}

// countMetric sums the values of a counter family.
func countMetric(t *testing.T, m *metrics, name string) float64 {
	t.Helper()
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
