package synchub_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/synchub"
)

// putPolicies writes revision rev of the policy set.
func (e *env) putPolicies(t testing.TB, rev int64, docs string) {
	t.Helper()
	if err := e.store.PutPolicySet(t.Context(), &store.PolicySet{Revision: rev, Documents: []byte(docs)}); err != nil {
		t.Fatal(err)
	}
}

// withPolicies makes the hub read policies from its store.
func withPolicies(c *synchub.Config) { c.Policies = c.Entries.(*store.Store) }

func TestPoliciesInFirstMessageAndOnEachRevision(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, withPolicies)
	a := agentID(1)

	// Before any revision, the first message carries no policies.
	s0 := e.open(t, synchub.Subscription{Agent: a}, nil)
	if m := s0.next(t); m.Policies != nil {
		t.Errorf("first message before any policy set: Policies = %+v, want nil", m.Policies)
	}

	e.putPolicies(t, 1, `[{"name":"p1"}]`)
	e.hub.Notify()
	m := s0.next(t)
	if m.Policies == nil || m.Policies.Revision != 1 || string(m.Policies.Documents) != `[{"name":"p1"}]` {
		t.Fatalf("after revision 1: Policies = %+v", m.Policies)
	}

	// A stream that connects later gets the current set in its first
	// message.
	s1 := e.open(t, synchub.Subscription{Agent: agentID(2)}, nil)
	if m := s1.next(t); m.Policies == nil || m.Policies.Revision != 1 {
		t.Errorf("first message of a later stream: Policies = %+v, want revision 1", m.Policies)
	}

	// A round without a new revision sends nothing.
	e.hub.Notify()
	e.createEntry(t, "unrelated", a)
	e.hub.Notify()
	if m := s0.next(t); m.Policies != nil {
		t.Errorf("entry change carried Policies %+v", m.Policies)
	}

	e.putPolicies(t, 2, `[]`)
	e.hub.Notify()
	for name, s := range map[string]*stream{"s0": s0, "s1": s1} {
		var got *agentproto.PolicySet
		for got == nil {
			got = s.next(t).Policies
		}
		if got.Revision != 2 || string(got.Documents) != `[]` {
			t.Errorf("%s: after revision 2: Policies = %+v", name, got)
		}
	}
}

func TestNoPoliciesWithoutSource(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t)
	e.putPolicies(t, 1, `[]`)
	s := e.open(t, synchub.Subscription{Agent: agentID(1)}, nil)
	if m := s.next(t); m.Policies != nil {
		t.Errorf("hub without a PolicySource sent %+v", m.Policies)
	}
}
