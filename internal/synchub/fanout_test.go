package synchub_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/synchub"
)

// TestFanOutCostFollowsTheAgentsConcerned connects 200 agents and shows
// that a change for one parent costs one message, not 200, however many
// entries the store holds; a change for every agent costs one message per
// agent.
func TestFanOutCostFollowsTheAgentsConcerned(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t)
	const agents = 200
	for i := range 200 { // entries that concern nobody connected
		e.createEntry(t, "other-"+string(rune('a'+i%26))+string(rune('a'+i/26)), agentID(10_000+i))
	}
	e.hub.Notify()
	waitRev(t, e, 200)
	streams := make([]*stream, agents)
	for i := range agents {
		streams[i] = e.open(t, synchub.Subscription{Agent: agentID(i)}, nil)
	}
	for _, s := range streams {
		if m := s.next(t); !m.Full || len(m.Entries) != 0 {
			t.Fatalf("catch-up = %+v, want an empty full state", m)
		}
	}
	e.waitStreams(t, agents)

	tests := []struct {
		name   string
		parent spiffeid.ID
		want   uint64 // messages sent
	}{
		{"entry of one agent", agentID(7), 1},
		{"entry of an agent not connected", agentID(agents + 1), 0},
		{"entry of every agent", spiffeid.ID{}, agents},
		{"entry of another agent", agentID(123), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.hub.Stats().Sent
			en := e.createEntry(t, "entry-"+tc.name, tc.parent)
			e.hub.Notify()
			waitRev(t, e, en.Revision)
			if got := e.hub.Stats().Sent - before; got != tc.want {
				t.Errorf("%d messages sent, want %d", got, tc.want)
			}
			for i, s := range streams {
				concerned := tc.parent.IsZero() || tc.parent == agentID(i)
				if !concerned {
					s.none(t)
					continue
				}
				if m := s.next(t); cmp.Diff([]string{en.ID}, ids(m.Entries)) != "" {
					t.Errorf("agent %d got %v", i, ids(m.Entries))
				}
			}
		})
	}
}
