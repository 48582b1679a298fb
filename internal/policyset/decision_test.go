package policyset

import (
	"strings"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/policy"
)

func TestDecisionEvent(t *testing.T) {
	const partner = "spiffe://partner.example/app"
	in := &policy.Input{Target: "spiffe://example.org/orders", Caller: policy.Caller{SPIFFEID: partner}}
	in.Request.Method, in.Request.Path = "POST", "/orders/1"
	in.Request.Headers = map[string]string{"x-tenant": "acme"}
	in.Trust.Signals = []string{"caep.x"}
	rule := policy.RuleRef{Policy: "orders", Index: 1}
	r := policy.Record{DecisionID: policy.NewDecisionID(), Timestamp: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC),
		Revision: 7, Input: *in,
		Result: policy.RecordResult{Action: policy.ActionStepUp, Rule: rule, Reason: "needs mfa"},
		DryRun: &policy.RecordResult{Action: policy.ActionDeny}}
	ev := DecisionEvent(&r)
	if ev.Type != "policy.decision" || ev.Outcome != audit.OutcomeDenied || ev.Actor.ID != partner ||
		ev.Policy.Revision != 7 || ev.Policy.Rule != rule.String() || ev.Trust.Signals[0] != "caep.x" ||
		ev.Details["decision_id"] != r.DecisionID || ev.Details["action"] != "step_up" || ev.Details["dry_run_action"] != "deny" {
		t.Errorf("event = %+v", ev)
	}
	eb, err := audit.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(eb), "tenant") {
		t.Errorf("ledger event carries headers: %s", eb)
	}
	r.Result.Allowed, r.Input.Caller = true, policy.Caller{ClientID: "c1"}
	if ev := DecisionEvent(&r); ev.Outcome != audit.OutcomeSuccess || ev.Actor != (audit.Actor{Kind: "client", ID: "c1"}) {
		t.Errorf("allowed client call: outcome %v, actor %+v", ev.Outcome, ev.Actor)
	}
}
