package policy

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/ledger"
)

// Record is the decision log entry of one call. Its first fields are
// those of an OPA decision log (decision_id, revision, input, result,
// timestamp), so that tools reading OPA logs read it; the rest are Kith's.
type Record struct {
	DecisionID string    `json:"decision_id"`
	Timestamp  time.Time `json:"timestamp"`
	// Path is the decision's name, as OPA's query path: always
	// "kith/policy/decide".
	Path string `json:"path"`
	// Revision is the policy set's revision (OPA: bundle revision).
	Revision int64 `json:"revision"`
	// Input is the input decided on, without credentials-bearing headers.
	Input Input `json:"input"`
	// Result is the enforced outcome.
	Result RecordResult `json:"result"`
	// DryRun is the outcome with dry-run policies enforced too, if any
	// applied.
	DryRun *RecordResult `json:"dry_run,omitempty"`
	// Protected says an enforced policy targets the service.
	Protected bool `json:"protected"`
}

// RecordResult is an [Outcome] in a record.
type RecordResult struct {
	Action      Action      `json:"action"`
	Allowed     bool        `json:"allowed"`
	Rule        RuleRef     `json:"rule,omitzero"`
	Reason      string      `json:"reason"`
	Obligations Obligations `json:"obligations,omitzero"`
	Inputs      []string    `json:"inputs,omitempty"`
	Error       string      `json:"error,omitempty"`
}

// NewDecisionID returns a random decision ID (128 bits, hex).
func NewDecisionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// redactedHeader reports whether a header is never copied into records: they carry credentials.
func redactedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "dpop", "x-api-key":
		return true
	}
	return false
}

// NewRecord returns the record of decision d on in, made at t with ID id
// (see [NewDecisionID]). It copies what it keeps of in.
func NewRecord(id string, t time.Time, in *Input, d *Decision) Record {
	r := Record{DecisionID: id, Timestamp: t.UTC(), Path: "kith/policy/decide", Revision: d.Revision,
		Input: *in, Result: recordResult(&d.Outcome), Protected: d.Protected}
	r.Input.act = activation{}
	if h := in.Request.Headers; h != nil {
		r.Input.Request.Headers = make(map[string]string, len(h))
		for k, v := range h {
			if !redactedHeader(k) {
				r.Input.Request.Headers[k] = v
			}
		}
	}
	if d.HasDryRun {
		dr := recordResult(&d.DryRun)
		r.DryRun = &dr
	}
	return r
}

func recordResult(o *Outcome) RecordResult {
	rr := RecordResult{Action: o.Action, Allowed: o.Allowed(), Rule: o.Rule, Reason: o.Reason, Obligations: o.Obligations, Inputs: o.Inputs}
	if o.Err != nil {
		rr.Error = o.Err.Error()
	}
	return rr
}

// Event returns the record as a ledger event of type "policy.decision":
// the caller as actor, the target, the outcome (denied unless allowed),
// the policy revision and rule, the trust state, and the request's method,
// host and path. Headers, token claims and scopes stay out of the ledger.
func (r *Record) Event() ledger.Event {
	outcome := ledger.OutcomeSuccess
	if !r.Result.Allowed {
		outcome = ledger.OutcomeDenied
	}
	actor := ledger.Actor{Kind: "workload", ID: r.Input.Caller.SPIFFEID}
	if actor.ID == "" {
		actor = ledger.Actor{Kind: "client", ID: r.Input.Caller.ClientID}
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
	return ledger.Event{
		Time:    r.Timestamp,
		Type:    "policy.decision",
		Actor:   actor,
		Target:  r.Input.Target,
		Action:  "call",
		Outcome: outcome,
		Policy:  &ledger.Policy{Revision: r.Revision, Rule: r.Result.Rule.String()},
		Trust:   &ledger.Trust{Score: r.Input.Trust.Score, Signals: r.Input.Trust.Signals},
		Reason:  r.Result.Reason,
		Details: details,
	}
}
