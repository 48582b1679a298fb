package policy

import (
	"strconv"
	"strings"
)

// RuleRef names a rule: its policy and its index in the policy's rules.
type RuleRef struct {
	// Policy is the policy's name; empty when no rule decided.
	Policy string `json:"policy,omitempty"`
	// Index is the rule's position in the policy's rules, from 0.
	Index int `json:"index"`
	// Name is the rule's optional label.
	Name string `json:"name,omitempty"`
}

// IsZero reports whether r names no rule.
func (r RuleRef) IsZero() bool { return r.Policy == "" }

// String returns "policy#index", or "" for no rule.
func (r RuleRef) String() string {
	if r.Policy == "" {
		return ""
	}
	return r.Policy + "#" + strconv.Itoa(r.Index)
}

// Obligations are what the proxy must do besides letting a call through
// or refusing it.
type Obligations struct {
	// Scopes, for restrict, are the only scopes the call may use: the
	// proxy drops the token's other scopes. Several matching restrict
	// rules leave their intersection.
	Scopes []string `json:"scopes,omitempty"`
	// RateLimit, for rate_limit (or restrict with a rate_limit rule
	// matching too), is the rate allowed per caller; the strictest of the
	// matching rules.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	// StepUp, for step_up, is the authentication to ask for: see
	// [StepUp.Challenge].
	StepUp *StepUp `json:"step_up,omitempty"`
	// Record says an audit rule matched: the call must be recorded in the
	// audit ledger whatever the decision.
	Record bool `json:"record,omitempty"`
	// Signal, for quarantine, is the signal to raise against the caller.
	Signal string `json:"signal,omitempty"`
}

// SignalQuarantine is the signal a quarantine decision raises.
const SignalQuarantine = "policy.quarantine"

// Outcome is the result of combining the rules that matched a call.
type Outcome struct {
	// Action is the decision; a call is let through when Action.Allows().
	Action Action
	// Rule is the rule that decided; zero for a target no policy protects
	// and for the default deny.
	Rule RuleRef
	// Reason explains the decision to people.
	Reason string
	// Obligations are what the proxy must do on top.
	Obligations Obligations
	// Inputs name the parts of the input the deciding rule looked at,
	// such as "caller.spiffe_id" or "trust.score".
	Inputs []string
	// Err is why evaluation failed, when it did; the call is then denied.
	Err error
}

// Allowed reports whether the call may go through.
func (o *Outcome) Allowed() bool { return o.Action.Allows() }

// Decision is the policy decision for one call.
type Decision struct {
	// Outcome is what is enforced.
	Outcome
	// Revision is the revision of the policy set that decided.
	Revision int64
	// Protected says an enforced policy targets the service; a call to an
	// unprotected target is allowed.
	Protected bool
	// DryRun is what the decision would be if the dry-run policies for
	// this target were enforced too; meaningful only when HasDryRun.
	DryRun Outcome
	// HasDryRun says a dry-run policy targets the service.
	HasDryRun bool
}

// Challenge returns the WWW-Authenticate value of an RFC 9470 step-up
// challenge for s: a Bearer challenge with error
// "insufficient_user_authentication" and the acr_values and max_age
// asked for.
func (s *StepUp) Challenge() string {
	var b strings.Builder
	b.WriteString(`Bearer error="insufficient_user_authentication", error_description="A different authentication level is required"`)
	if len(s.ACR) > 0 {
		b.WriteString(`, acr_values="`)
		b.WriteString(strings.Join(s.ACR, " "))
		b.WriteString(`"`)
	}
	if s.MaxAge > 0 {
		b.WriteString(`, max_age="`)
		b.WriteString(strconv.FormatInt(s.MaxAge, 10))
		b.WriteString(`"`)
	}
	return b.String()
}

// satisfiedBy reports whether a token already meets s at time now (Unix
// seconds).
func (s *StepUp) satisfiedBy(t *Token, now int64) bool {
	if !t.Present {
		return false
	}
	if len(s.ACR) > 0 {
		ok := false
		for _, a := range s.ACR {
			if a == t.ACR {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if s.MaxAge > 0 && (t.AuthTime == 0 || now-t.AuthTime > s.MaxAge) {
		return false
	}
	return true
}
