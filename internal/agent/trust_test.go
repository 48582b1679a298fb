package agent

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/agentproto"
)

// TestTrustData follows the agent's copy of the trust table as a feed
// reader sees it: the whole table first, then only what changed since the
// reader's state, and the whole table again after a new full table or a
// compaction.
func TestTrustData(t *testing.T) {
	var td trustData
	if got := td.capture().full(); got != nil {
		t.Fatalf("table before any = %+v, want nil", got)
	}
	e := func(id string, s int) agentproto.TrustEntry { return agentproto.TrustEntry{ID: id, Score: s} }
	td.apply(&agentproto.TrustUpdate{Full: true, Default: 700, Entries: []agentproto.TrustEntry{e("b", 900), e("a", 800)}}, 1)
	first := td.capture()
	if diff := cmp.Diff(&agentproto.TrustUpdate{Full: true, Default: 700, Entries: []agentproto.TrustEntry{e("a", 800), e("b", 900)}}, first.full()); diff != "" {
		t.Errorf("full (-want +got):\n%s", diff)
	}
	td.apply(&agentproto.TrustUpdate{Entries: []agentproto.TrustEntry{e("a", 400), e("c", 100)}}, 2)
	td.apply(&agentproto.TrustUpdate{Entries: []agentproto.TrustEntry{e("a", 300)}}, 3)
	second := td.capture()
	if diff := cmp.Diff(&agentproto.TrustUpdate{Entries: []agentproto.TrustEntry{e("a", 300), e("c", 100)}}, second.delta(first)); diff != "" {
		t.Errorf("delta (-want +got):\n%s", diff)
	}
	if got := second.delta(second); got != nil {
		t.Errorf("delta without change = %+v, want nil", got)
	}
	if got := second.full(); len(got.Entries) != 3 || got.Entries[0].Score != 300 {
		t.Errorf("full after deltas = %+v", got)
	}
	// Enough changes fold the log into a new base: a reader then gets the
	// whole table once.
	for i := range minTrustCompaction - 2 { // with the 3 logged, one past the bound
		td.apply(&agentproto.TrustUpdate{Entries: []agentproto.TrustEntry{e(fmt.Sprint("x", i), 500)}}, int64(4+i))
	}
	if len(td.log) != 0 {
		t.Errorf("log of %d after compaction", len(td.log))
	}
	third := td.capture()
	if got := third.delta(second); got == nil || !got.Full || len(got.Entries) != 3+minTrustCompaction-2 {
		t.Errorf("delta across a compaction is not the whole table")
	}
	// A new full table drops what it does not list.
	td.apply(&agentproto.TrustUpdate{Full: true, Entries: []agentproto.TrustEntry{e("z", 10)}}, 9999)
	if got := td.capture().delta(third); !got.Full || len(got.Entries) != 1 {
		t.Errorf("delta after a full table = %+v", got)
	}
}

func TestCheckTrust(t *testing.T) {
	u := &agentproto.TrustUpdate{Default: -5, Entries: []agentproto.TrustEntry{{ID: "a", Score: 10}, {Score: 3}, {ID: "b", Score: 1001}}}
	if n := checkTrust(u); n != 2 || len(u.Entries) != 1 || u.Default != 0 {
		t.Errorf("checkTrust: skipped %d, kept %+v", n, u)
	}
}
