package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/api"
)

// policyJSON returns a policy document allowing GET for billing.
func policyJSON(name, method string) json.RawMessage {
	return json.RawMessage(`{"name":"` + name + `","target":"spiffe://example.org/orders","rules":[
		{"from":{"spiffe_ids":["spiffe://example.org/billing"]},"to":{"methods":["` + method + `"]},"action":"allow"}]}`)
}

func TestPolicyLifecycleOverHTTP(t *testing.T) {
	ts := startServer(t, "example.org")
	agent := ts.attestAgent(t)

	steps := []struct {
		name     string
		method   string
		path     string
		body     any
		code     int
		revision int64
		changes  []string // name:kind
	}{
		{"apply creates", "POST", "/v1/policies", api.PolicyApply{Policies: []json.RawMessage{policyJSON("orders", "GET"), policyJSON("orders-2", "GET")}},
			200, 1, []string{"orders:created", "orders-2:created"}},
		{"apply again changes nothing", "POST", "/v1/policies", api.PolicyApply{Policies: []json.RawMessage{policyJSON("orders", "GET")}},
			200, 1, []string{"orders:unchanged"}},
		{"apply updates", "POST", "/v1/policies", api.PolicyApply{Policies: []json.RawMessage{policyJSON("orders", "POST")}},
			200, 2, []string{"orders:updated"}},
		{"invalid policy", "POST", "/v1/policies", api.PolicyApply{Policies: []json.RawMessage{policyJSON("bad", "FETCH")}}, 400, 0, nil},
		{"unknown field", "POST", "/v1/policies", api.PolicyApply{Policies: []json.RawMessage{json.RawMessage(`{"name":"x","targets":"y"}`)}}, 400, 0, nil},
		{"nothing to apply", "POST", "/v1/policies", api.PolicyApply{}, 400, 0, nil},
		{"delete", "DELETE", "/v1/policies/orders-2", nil, 200, 3, []string{"orders-2:deleted"}},
		{"delete again", "DELETE", "/v1/policies/orders-2", nil, 404, 0, nil},
	}
	for _, st := range steps {
		var res api.PolicyApplyResult
		var p api.Problem
		var out any = &res
		if st.code != 200 {
			out = &p
		}
		if code := ts.do(t, st.method, st.path, ts.token, st.body, out); code != st.code {
			t.Fatalf("%s: status %d (%+v), want %d", st.name, code, p, st.code)
		}
		if st.code != 200 {
			if p.Detail == "" {
				t.Errorf("%s: problem without detail", st.name)
			}
			continue
		}
		var got []string
		for _, c := range res.Changes {
			got = append(got, c.Name+":"+c.Kind)
			if c.Kind == "updated" && !strings.Contains(c.Diff, "-           \"GET\"\n+           \"POST\"") {
				t.Errorf("%s: diff of %s = %q, want the new method", st.name, c.Name, c.Diff)
			}
		}
		if res.Revision != st.revision || !cmp.Equal(got, st.changes) {
			t.Errorf("%s: revision %d, changes %v; want %d, %v", st.name, res.Revision, got, st.revision, st.changes)
		}
	}

	var set api.PolicySet
	if code := ts.do(t, "GET", "/v1/policies", ts.token, nil, &set); code != 200 || set.Revision != 3 || len(set.Policies) != 1 || set.UpdatedBy == "" {
		t.Errorf("GET /v1/policies: %d %+v", code, set)
	}
	var one api.Policy
	if code := ts.do(t, "GET", "/v1/policies/orders", ts.token, nil, &one); code != 200 || one.Revision != 3 || !strings.Contains(string(one.Policy), `"POST"`) {
		t.Errorf("GET /v1/policies/orders: %d %+v", code, one)
	}
	if code := ts.do(t, "GET", "/v1/policies/nope", ts.token, nil, nil); code != http.StatusNotFound {
		t.Errorf("GET an unknown policy: %d, want 404", code)
	}

	for typ, want := range map[string]int{"policy.applied": 2, "policy.deleted": 1} {
		if evs := ts.events(t, typ, "success"); len(evs) != want {
			t.Errorf("%d %s events, want %d", len(evs), typ, want)
		}
	}

	// Agents get the set in their first sync message, and each new
	// revision as it is written.
	s := agent.openSync(t, ts, 0, 0)
	first := s.next(t)
	if first.Policies == nil || first.Policies.Revision != 3 {
		t.Fatalf("first sync message: Policies = %+v, want revision 3", first.Policies)
	}
	ts.do(t, "POST", "/v1/policies", ts.token, api.PolicyApply{Policies: []json.RawMessage{policyJSON("more", "GET")}}, nil)
	for {
		m := s.next(t)
		if m.Policies != nil {
			if m.Policies.Revision != 4 || !strings.Contains(string(m.Policies.Documents), `"more"`) {
				t.Errorf("pushed Policies = revision %d %s, want revision 4 with more", m.Policies.Revision, m.Policies.Documents)
			}
			break
		}
	}
}
