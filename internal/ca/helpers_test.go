package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// fakeJournal is an in-memory JournalStore with the store's CAS contract.
type fakeJournal struct {
	mu      sync.Mutex
	data    map[string][]byte
	version map[string]int64
	puts    int
}

func newFakeJournal() *fakeJournal {
	return &fakeJournal{data: map[string][]byte{}, version: map[string]int64{}}
}

func (j *fakeJournal) GetBlob(_ context.Context, name string) ([]byte, int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	v, ok := j.version[name]
	if !ok {
		return nil, 0, fmt.Errorf("fake: get %q: %w", name, store.ErrNotFound)
	}
	return append([]byte(nil), j.data[name]...), v, nil
}

func (j *fakeJournal) PutBlob(_ context.Context, name string, data []byte, expect int64) (int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.version[name] != expect {
		return 0, fmt.Errorf("fake: put %q at %d: %w", name, expect, store.ErrConflict)
	}
	j.puts++
	j.version[name] = expect + 1
	j.data[name] = append([]byte(nil), data...)
	return expect + 1, nil
}

// set overwrites a blob, as a corrupting writer would.
func (j *fakeJournal) set(name string, data []byte) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.version[name]++
	j.data[name] = data
}

func (j *fakeJournal) get(tb testing.TB) []byte {
	tb.Helper()
	data, _, err := j.GetBlob(context.Background(), journalBlob)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// fakeAuditor keeps the events it is given.
type fakeAuditor struct {
	mu     sync.Mutex
	events []audit.Event
	err    error
}

func (a *fakeAuditor) Record(_ context.Context, ev audit.Event) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return 0, a.err
	}
	a.events = append(a.events, ev)
	return int64(len(a.events) - 1), nil
}

// take returns the events recorded since the last call as "type key_id".
func (a *fakeAuditor) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, ev := range a.events {
		out = append(out, ev.Type+" "+ev.Details["key_id"])
	}
	a.events = nil
	return out
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env holds what a test CA is built from; several CAs may share one env,
// as replicas share a journal.
type env struct {
	td      spiffeid.TrustDomain
	journal *fakeJournal
	auditor *fakeAuditor
	clock   *fakeClock
	kek     *KEK
	t0      time.Time
}

// newEnv starts the clock at the real time (to the second), so that
// verifiers that read the real clock, such as jwtsvid, accept what the
// CA mints at t0.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	t0 := time.Now().Truncate(time.Second)
	return &env{
		td:      spiffeid.RequireTrustDomainFromString("example.org"),
		journal: newFakeJournal(),
		auditor: &fakeAuditor{},
		clock:   &fakeClock{t: t0},
		kek:     newTestKEK(tb),
		t0:      t0,
	}
}

func (e *env) config() Config {
	return Config{
		TrustDomain: e.td,
		Journal:     e.journal,
		KEK:         e.kek,
		Clock:       e.clock.Now,
		Auditor:     e.auditor,
	}
}

func (e *env) newCA(tb testing.TB, mutate ...func(*Config)) *CA {
	tb.Helper()
	cfg := e.config()
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// at sets the clock to t0+d.
func (e *env) at(d time.Duration) time.Time {
	t := e.t0.Add(d)
	e.clock.Set(t)
	return t
}

func newTestKEK(tb testing.TB) *KEK {
	tb.Helper()
	key := make([]byte, KEKSize)
	rand.Read(key)
	k, err := NewKEK(key)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// newKey generates a key of the named kind.
func newKey(tb testing.TB, kind string) crypto.Signer {
	tb.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p224":
		k, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "p521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "rsa1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		tb.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// newCSR returns a DER CSR for key; tmpl may be nil.
func newCSR(tb testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	tb.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "workload"}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

func mustID(tb testing.TB, s string) spiffeid.ID {
	tb.Helper()
	id, err := spiffeid.FromString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// mint mints an X509-SVID for spiffe://example.org/workload.
func mint(tb testing.TB, c *CA, ttl time.Duration) *X509SVID {
	tb.Helper()
	svid, err := c.MintX509SVID(context.Background(), X509Params{
		CSR:      newCSR(tb, newKey(tb, "p256"), nil),
		SPIFFEID: mustID(tb, "spiffe://example.org/workload"),
		TTL:      ttl,
	})
	if err != nil {
		tb.Fatalf("MintX509SVID: %v", err)
	}
	return svid
}

// verifyX509 verifies svid with go-spiffe against bundle at now, both from
// parsed certificates and from raw DER, and returns the verified chain.
func verifyX509(tb testing.TB, svid *X509SVID, bundle x509bundle.Source, now time.Time) ([]*x509.Certificate, error) {
	tb.Helper()
	id, chains, err := x509svid.Verify(svid.Certificates, bundle, x509svid.WithTime(now))
	if err != nil {
		return nil, err
	}
	var raw [][]byte
	for _, c := range svid.Certificates {
		raw = append(raw, c.Raw)
	}
	id2, _, err := x509svid.ParseAndVerify(raw, bundle, x509svid.WithTime(now))
	if err != nil {
		tb.Fatalf("Verify passed but ParseAndVerify failed: %v", err)
	}
	if id != svid.ID || id2 != svid.ID {
		tb.Fatalf("verified IDs %v, %v; want %v", id, id2, svid.ID)
	}
	return chains[0], nil
}

// verifyJWT checks a token's signature against bundle and its claims at now
// with go-jose, for tests whose clock is not the real one (jwtsvid reads
// the real clock). It returns the kid.
func verifyJWT(tb testing.TB, token string, bundle *spiffebundle.Bundle, aud string, now time.Time) (string, error) {
	tb.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return "", err
	}
	kid := tok.Headers[0].KeyID
	key, ok := bundle.FindJWTAuthority(kid)
	if !ok {
		return kid, fmt.Errorf("kid %q not in bundle", kid)
	}
	var claims jwt.Claims
	if err := tok.Claims(key, &claims); err != nil {
		return kid, err
	}
	return kid, claims.ValidateWithLeeway(jwt.Expected{AnyAudience: []string{aud}, Time: now}, 0)
}

// slotIDs returns the IDs of the CA's slots by status.
func slotIDs(c *CA) map[slotStatus]string {
	m := map[slotStatus]string{}
	for _, s := range c.cur.Load().slots {
		m[s.status] = string(s.id)
	}
	return m
}

// jwtKIDs returns the sorted key IDs of the bundle's JWT authorities.
func jwtKIDs(b *spiffebundle.Bundle) []string {
	return slices.Sorted(maps.Keys(b.JWTAuthorities()))
}

func seqOf(tb testing.TB, b *spiffebundle.Bundle) uint64 {
	tb.Helper()
	n, ok := b.SequenceNumber()
	if !ok {
		tb.Fatal("bundle has no sequence number")
	}
	return n
}

// errorIs is errors.Is, with a nil want meaning no error.
func errorIs(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}
