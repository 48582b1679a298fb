package ca

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
)

// TestRotateCatchesUp covers a CA that did not run for a long time: one
// Rotate brings it to a usable state in a single journal write.
func TestRotateCatchesUp(t *testing.T) {
	tests := []struct {
		name        string
		prepareAt   time.Duration // 0: no Rotate at half-life
		now         time.Duration
		wantEvents  []string // types only
		wantOld     bool
		wantRootsIn int
	}{
		{"past five sixths without prepared key", 0, 21 * time.Hour,
			[]string{audit.TypeCAKeyActivated}, true, 2},
		{"past expiry without prepared key", 0, 30 * time.Hour,
			[]string{audit.TypeCAKeyActivated, audit.TypeCAKeyRetired}, false, 1},
		{"past expiry with stale prepared key", 12 * time.Hour, 12*time.Hour + 23*time.Hour,
			[]string{audit.TypeCAKeyActivated, audit.TypeCAKeyRetired, audit.TypeCAKeyActivated}, true, 2},
		{"past expiry of both keys", 12 * time.Hour, 60 * time.Hour,
			[]string{audit.TypeCAKeyRetired, audit.TypeCAKeyActivated, audit.TypeCAKeyRetired}, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.newCA(t)
			if tt.prepareAt != 0 {
				e.at(tt.prepareAt)
				rotate(t, c)
			}
			e.auditor.take()
			putsBefore := e.journal.puts
			now := e.at(tt.now)
			rotate(t, c)
			var types []string
			for _, ev := range e.auditor.take() {
				types = append(types, strings.Fields(ev)[0])
			}
			if strings.Join(types, ",") != strings.Join(tt.wantEvents, ",") {
				t.Errorf("events %v, want %v", types, tt.wantEvents)
			}
			if got := e.journal.puts - putsBefore; got != 1 {
				t.Errorf("%d journal writes, want 1", got)
			}
			ids := slotIDs(c)
			if (ids[statusOld] != "") != tt.wantOld || ids[statusActive] == "" {
				t.Errorf("slots %v", ids)
			}
			if n := len(c.X509Authorities()); n != tt.wantRootsIn {
				t.Errorf("%d roots in the bundle, want %d", n, tt.wantRootsIn)
			}
			if _, err := verifyX509(t, mint(t, c, 0), c.Bundle(), now); err != nil {
				t.Errorf("minting after catching up: %v", err)
			}
			rotate(t, c) // stable: nothing more to do
			if got := e.auditor.take(); len(got) != 0 {
				t.Errorf("second Rotate recorded %v", got)
			}
		})
	}
}

// TestReplicasShareJournal runs two CAs on one journal, as two server
// replicas would: whoever writes first wins, the other reloads.
func TestReplicasShareJournal(t *testing.T) {
	e := newEnv(t)
	c1 := e.newCA(t)
	other := &fakeAuditor{}
	c2 := e.newCA(t, func(cfg *Config) { cfg.Auditor = other })
	if got := other.take(); len(got) != 0 {
		t.Errorf("second replica recorded %v at start", got)
	}
	if !c1.Bundle().Equal(c2.Bundle()) {
		t.Fatal("replicas start with different bundles")
	}

	e.at(DefaultCATTL / 2)
	rotate(t, c1)
	rotate(t, c2) // stale: its write conflicts, it reloads and finds the work done
	if got := other.take(); len(got) != 0 {
		t.Errorf("second replica recorded %v after a conflict", got)
	}
	if !c1.Bundle().Equal(c2.Bundle()) || slotIDs(c1)[statusPrepared] != slotIDs(c2)[statusPrepared] {
		t.Error("replicas disagree after rotation")
	}

	// Both rotate at once at five sixths: exactly one activation.
	e.at(DefaultCATTL / 6 * 5)
	e.auditor.take()
	var wg sync.WaitGroup
	for _, c := range []*CA{c1, c2} {
		wg.Go(func() { rotate(t, c) })
	}
	wg.Wait()
	events := append(e.auditor.take(), other.take()...)
	if len(events) != 1 || !strings.HasPrefix(events[0], audit.TypeCAKeyActivated) {
		t.Errorf("events %v, want one activation", events)
	}
	if err := c1.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !c1.Bundle().Equal(c2.Bundle()) || slotIDs(c1)[statusActive] != slotIDs(c2)[statusActive] {
		t.Error("replicas disagree after concurrent rotation")
	}
}

func TestReload(t *testing.T) {
	e := newEnv(t)
	c1 := e.newCA(t)
	c2 := e.newCA(t)
	e.at(DefaultCATTL / 2)
	rotate(t, c1)
	ch := c2.Changed()
	if err := c2.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !c2.Bundle().Equal(c1.Bundle()) {
		t.Error("Reload did not pick up the prepared key")
	}
	select {
	case <-ch:
	default:
		t.Error("Reload did not signal Changed")
	}
	ch = c2.Changed()
	if err := c2.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Error("Reload without a change signalled Changed")
	default:
	}
	e.journal.set(journalBlob, []byte("{garbage"))
	if err := c2.Reload(context.Background()); !errors.Is(err, ErrJournal) {
		t.Errorf("Reload of a corrupt journal = %v, want ErrJournal", err)
	}
	if !c2.Bundle().Equal(c1.Bundle()) {
		t.Error("a failed Reload changed the keys")
	}
}

func TestRunRotatesAndStops(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t, func(cfg *Config) {
		cfg.CATTL, cfg.X509SVIDTTL, cfg.JWTSVIDTTL = time.Minute, time.Second, time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	changed := c.Changed()
	e.at(40 * time.Second) // past half of the 1m CA life
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Error("Run did not rotate within 10s")
	}
	if slotIDs(c)[statusPrepared] == "" {
		t.Error("no prepared key after Run rotated")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestMintDuringRotation mints from several goroutines while keys rotate;
// with -race it checks that minting needs no lock held by Rotate.
func TestMintDuringRotation(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	csr := newCSR(t, newKey(t, "p256"), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, err := c.MintX509SVID(ctx, X509Params{CSR: csr, SPIFFEID: mustID(t, "spiffe://example.org/w")})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for h := time.Duration(1); h <= 72; h++ {
		e.at(h * time.Hour)
		rotate(t, c)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("mint during rotation: %v", err)
	}
}
