package ca

import (
	"context"
	"crypto/x509"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
)

// TestRotationCycle walks one key through prepared, active, old and
// retired with an injected clock (CATTL 24h: prepare at 12h, activate at
// 20h, retire after 24h).
func TestRotationCycle(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	a := slotIDs(c)[statusActive]
	rootA := c.X509Authorities()[0]
	e.auditor.take()

	// t0: A active, alone.
	svid := mint(t, c, 0)
	if _, err := verifyX509(t, svid, bundleOf(e, rootA), e.t0); err != nil {
		t.Fatalf("t0 SVID does not chain to A: %v", err)
	}
	jwtA := mintJWT(t, c)
	if _, err := jwtsvid.ParseAndValidate(jwtA, c.Bundle(), []string{"aud"}); err != nil {
		t.Fatalf("t0 JWT: %v", err)
	}
	assertBundle(t, c, 1, a)

	// Before half-life nothing happens.
	e.at(11 * time.Hour)
	rotate(t, c)
	if got := e.auditor.take(); len(got) != 0 {
		t.Errorf("events before half-life: %v", got)
	}
	assertBundle(t, c, 1, a)

	// Half-life: B is prepared and published; A still signs.
	now := e.at(12 * time.Hour)
	rotate(t, c)
	b := slotIDs(c)[statusPrepared]
	if b == "" || b == a {
		t.Fatalf("no prepared slot at half-life: %v", slotIDs(c))
	}
	assertEvents(t, e, audit.TypeCAKeyPrepared+" "+b)
	assertBundle(t, c, 2, a, b)
	rootB := rootOf(t, c, b)
	longA := mint(t, c, 48*time.Hour) // capped at A's NotAfter
	if !longA.ExpiresAt.Equal(rootA.NotAfter) {
		t.Errorf("SVID minted by A expires %v, want A's NotAfter %v", longA.ExpiresAt, rootA.NotAfter)
	}
	if _, err := verifyX509(t, longA, bundleOf(e, rootA), now); err != nil {
		t.Errorf("SVID at half-life does not chain to A: %v", err)
	}
	if _, err := verifyX509(t, longA, bundleOf(e, rootB), now); err == nil {
		t.Error("SVID at half-life chains to B")
	}
	if kid, err := verifyJWT(t, mintJWT(t, c), c.Bundle(), "aud", now); err != nil || kid != a {
		t.Errorf("JWT at half-life: kid %q, %v; want %q", kid, err, a)
	}

	// Five sixths: B active, A old; the bundle content is unchanged.
	e.at(20*time.Hour - 2*time.Minute)
	jwtLateA := mintJWT(t, c)
	now = e.at(20 * time.Hour)
	rotate(t, c)
	assertEvents(t, e, audit.TypeCAKeyActivated+" "+b)
	if ids := slotIDs(c); ids[statusActive] != b || ids[statusOld] != a {
		t.Fatalf("slots after activation: %v", ids)
	}
	assertBundle(t, c, 2, a, b)
	svidB := mint(t, c, 0)
	if _, err := verifyX509(t, svidB, bundleOf(e, rootB), now); err != nil {
		t.Errorf("new SVID does not chain to B: %v", err)
	}
	if _, err := verifyX509(t, svidB, bundleOf(e, rootA), now); err == nil {
		t.Error("new SVID chains to A")
	}
	if _, err := verifyX509(t, longA, c.Bundle(), now); err != nil {
		t.Errorf("SVID minted by A no longer verifies against the bundle: %v", err)
	}
	if kid, err := verifyJWT(t, mintJWT(t, c), c.Bundle(), "aud", now); err != nil || kid != b {
		t.Errorf("JWT after activation: kid %q, %v; want %q", kid, err, b)
	}
	if kid, err := verifyJWT(t, jwtLateA, c.Bundle(), "aud", now); err != nil || kid != a {
		t.Errorf("JWT signed by A before activation: kid %q, %v; want valid with %q", kid, err, a)
	}

	// A's NotAfter passes: A is retired (and B reaches its half-life).
	now = e.at(24*time.Hour + time.Second)
	rotate(t, c)
	ids := slotIDs(c)
	cc := ids[statusPrepared]
	if ids[statusActive] != b || ids[statusOld] != "" || cc == "" {
		t.Fatalf("slots after A's end: %v", ids)
	}
	assertEvents(t, e, audit.TypeCAKeyRetired+" "+a, audit.TypeCAKeyPrepared+" "+cc)
	assertBundle(t, c, 3, b, cc)
	if c.Bundle().HasX509Authority(rootA) {
		t.Error("A's root is still in the bundle")
	}
	if _, err := verifyX509(t, mint(t, c, 0), c.Bundle(), now); err != nil {
		t.Errorf("SVID after A's retirement: %v", err)
	}
	if got := len(e.journal.get(t)); got == 0 {
		t.Fatal("empty journal")
	}
}

func rotate(tb testing.TB, c *CA) {
	tb.Helper()
	if err := c.Rotate(context.Background()); err != nil {
		tb.Fatalf("Rotate: %v", err)
	}
}

func mintJWT(tb testing.TB, c *CA) string {
	tb.Helper()
	token, _, err := c.MintJWTSVID(context.Background(), JWTParams{SPIFFEID: mustID(tb, "spiffe://example.org/w"), Audience: []string{"aud"}})
	if err != nil {
		tb.Fatalf("MintJWTSVID: %v", err)
	}
	return token
}

// bundleOf is a bundle of example.org holding only roots.
func bundleOf(e *env, roots ...*x509.Certificate) *spiffebundle.Bundle {
	return spiffebundle.FromX509Authorities(e.td, roots)
}

// rootOf returns the CA certificate of slot id.
func rootOf(tb testing.TB, c *CA, id string) *x509.Certificate {
	tb.Helper()
	for _, s := range c.cur.Load().slots {
		if string(s.id) == id {
			return s.cert
		}
	}
	tb.Fatalf("no slot %q", id)
	return nil
}

// assertBundle checks the bundle's sequence number and that its X.509 and
// JWT authorities are exactly those of slots ids.
func assertBundle(tb testing.TB, c *CA, seq uint64, ids ...string) {
	tb.Helper()
	b := c.Bundle()
	if got := seqOf(tb, b); got != seq {
		tb.Errorf("bundle sequence %d, want %d", got, seq)
	}
	want := slices.Sorted(slices.Values(ids))
	if diff := cmp.Diff(want, jwtKIDs(b)); diff != "" {
		tb.Errorf("JWT kids (-want +got):\n%s", diff)
	}
	roots := b.X509Authorities()
	if len(roots) != len(ids) {
		tb.Errorf("bundle has %d roots, want %d", len(roots), len(ids))
	}
	for _, id := range ids {
		if !b.HasX509Authority(rootOf(tb, c, id)) {
			tb.Errorf("root of slot %s missing from the bundle", id)
		}
	}
}

// assertEvents checks the audit events recorded since the last check.
func assertEvents(tb testing.TB, e *env, want ...string) {
	tb.Helper()
	if diff := cmp.Diff(want, e.auditor.take()); diff != "" {
		tb.Errorf("audit events (-want +got):\n%s", diff)
	}
}
