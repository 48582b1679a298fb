package policy

import (
	"errors"
	"fmt"
)

// Action is what a rule asks for when it matches. Actions are ordered by
// precedence: when several rules match a call, the one with the highest
// precedence decides (see [Set.Decide]).
type Action uint8

// Actions, lowest precedence first.
const (
	// ActionAllow lets the call through.
	ActionAllow Action = iota + 1
	// ActionAudit lets the call through and asks for it to be recorded.
	ActionAudit
	// ActionRateLimit lets the call through within a rate per caller.
	ActionRateLimit
	// ActionRestrict lets the call through with only the listed scopes.
	ActionRestrict
	// ActionStepUp refuses the call with an RFC 9470 challenge unless the
	// token already satisfies the required acr and max_age.
	ActionStepUp
	// ActionDeny refuses the call.
	ActionDeny
	// ActionQuarantine refuses every call of the caller and raises a
	// signal about it.
	ActionQuarantine
)

// ErrUnknownAction is returned by [ParseAction] for a name that is not an
// action.
var ErrUnknownAction = errors.New("unknown action (want allow, audit, rate_limit, restrict, step_up, deny or quarantine)")

// String returns the action's name as written in policies, or "" for the
// zero Action.
func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "allow"
	case ActionAudit:
		return "audit"
	case ActionRateLimit:
		return "rate_limit"
	case ActionRestrict:
		return "restrict"
	case ActionStepUp:
		return "step_up"
	case ActionDeny:
		return "deny"
	case ActionQuarantine:
		return "quarantine"
	}
	return ""
}

// ParseAction returns the action named s, or [ErrUnknownAction].
func ParseAction(s string) (Action, error) {
	for a := ActionAllow; a <= ActionQuarantine; a++ {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%q: %w", s, ErrUnknownAction)
}

// Allows reports whether a call decided with a lets the call through
// (with obligations for audit, rate_limit and restrict).
func (a Action) Allows() bool { return a >= ActionAllow && a <= ActionRestrict }

// MarshalText encodes a as its name. It returns an error for the zero or
// an unknown Action.
func (a Action) MarshalText() ([]byte, error) {
	if s := a.String(); s != "" {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("policy: cannot encode action %d", uint8(a))
}

// UnmarshalText decodes an action name; it returns [ErrUnknownAction] for
// anything else.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Mode says whether a policy is enforced.
type Mode string

// Modes of a policy.
const (
	// ModeEnforce policies decide calls; it is the default ("").
	ModeEnforce Mode = "enforce"
	// ModeDryRun policies are evaluated and reported, never enforced.
	ModeDryRun Mode = "dry_run"
)
