package trust

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSnapshot: an engine restored from another's snapshot knows what it
// learned — the same attack raises the same signals — and snapshots
// again to the same bytes; a damaged snapshot is refused and changes
// nothing.
func TestSnapshot(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	a, recA, start := warmed(t, w, nil)
	other := newWorkload("spiffe://example.org/b", 2, 1, 2)
	other.run(t0, start, observeAll(a))
	if err := a.AddContext(ContextInput{ID: "1", Identity: other.caller, Kind: "leak", Reason: "r", Weight: 100, Expires: start.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := a.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot of %d callers: %d bytes", a.Stats().Callers, snap.Len())

	b, recB, _ := newEngine(t, func(tu *Tuning) {})
	b.seed = 7 // the snapshot's seed must win
	if err := b.ReadSnapshot(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := b.WriteSnapshot(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snap.Bytes(), again.Bytes()) {
		t.Error("a restored engine snapshots to other bytes")
	}
	if got := b.State(other.caller).Trust.Signals; !cmp.Equal(got, []string{"context.leak"}) {
		t.Errorf("restored context inputs: signals %v", got)
	}

	replay := func(c Call) Call {
		c.Source = netip.MustParseAddr("203.0.113.5")
		return c
	}
	for k := range 30 {
		c := replay(w.call(start.Add(time.Duration(k)*time.Second), 0, k%2))
		c2 := c
		a.Observe(&c)
		b.Observe(&c2)
	}
	if len(recA.signals) == 0 || !cmp.Equal(recA.signals, recB.signals) {
		t.Errorf("signals differ:\nA:%s\nB:%s", recA.summary(), recB.summary())
	}

	for _, bad := range [][]byte{nil, []byte("KITHTRST"), snap.Bytes()[:snap.Len()/2], append([]byte("XXXXXXXX"), snap.Bytes()[8:]...)} {
		c, _, _ := newEngine(t, nil)
		x := Call{Time: t0, Caller: "spiffe://example.org/kept", Target: "spiffe://example.org/x"}
		c.Observe(&x)
		if err := c.ReadSnapshot(bytes.NewReader(bad)); !errors.Is(err, ErrSnapshot) {
			t.Errorf("ReadSnapshot(%d bytes) = %v, want ErrSnapshot", len(bad), err)
		}
		if !c.State(x.Caller).Known {
			t.Error("a refused snapshot changed the engine")
		}
	}
}
