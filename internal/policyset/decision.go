package policyset

import (
	"strconv"
	"strings"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/policy"
)

// DecisionEvent returns the decision record r as a ledger event of type
// "policy.decision": the caller as actor, the target, the outcome (denied
// unless allowed), the policy revision and rule, the trust state, and the
// request's method, host and path. Headers, token claims and scopes stay
// out of the ledger.
func DecisionEvent(r *policy.Record) audit.Event {
	outcome := audit.OutcomeSuccess
	if !r.Result.Allowed {
		outcome = audit.OutcomeDenied
	}
	actor := audit.Actor{Kind: "workload", ID: r.Input.Caller.SPIFFEID}
	if actor.ID == "" {
		actor = audit.Actor{Kind: "client", ID: r.Input.Caller.ClientID}
	}
	details := map[string]string{
		"decision_id": r.DecisionID,
		"action":      r.Result.Action.String(),
		"method":      r.Input.Request.Method,
		"path":        r.Input.Request.Path,
	}
	setIf := func(k, v string) {
		if v != "" {
			details[k] = v
		}
	}
	setIf("host", r.Input.Request.Host)
	setIf("client_id", r.Input.Caller.ClientID)
	setIf("rule_name", r.Result.Rule.Name)
	setIf("error", r.Result.Error)
	setIf("signal", r.Result.Obligations.Signal)
	if r.DryRun != nil {
		details["dry_run_action"] = r.DryRun.Action.String()
		setIf("dry_run_rule", r.DryRun.Rule.String())
	}
	if s := r.Result.Obligations.Scopes; s != nil {
		details["scopes_kept"] = strings.Join(s, " ")
	}
	if rl := r.Result.Obligations.RateLimit; rl != nil {
		details["rate_limit"] = strconv.FormatFloat(rl.RPS, 'g', -1, 64) + "/s burst " + strconv.Itoa(rl.Burst)
	}
	return audit.Event{
		Time:    r.Timestamp,
		Type:    audit.TypePolicyDecision,
		Actor:   actor,
		Target:  r.Input.Target,
		Action:  "call",
		Outcome: outcome,
		Policy:  &audit.Policy{Revision: r.Revision, Rule: r.Result.Rule.String()},
		Trust:   &audit.Trust{Score: r.Input.Trust.Score, Signals: r.Input.Trust.Signals},
		Reason:  r.Result.Reason,
		Details: details,
	}
}
