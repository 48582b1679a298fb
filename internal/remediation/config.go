package remediation

import (
	"slices"
	"time"

	"github.com/kith-dev/kith/internal/trust"
)

// File is a ladder file: the ladders and the webhook that tells people.
type File struct {
	// Webhook, if set, receives a notification of every step.
	Webhook *WebhookSpec
	// Ladders are tried in file order: an identity is handled by the first
	// ladder whose identities select it, and by no other.
	Ladders []Ladder
}

// WebhookSpec is where notifications go, as a ladder file says.
type WebhookSpec struct {
	// URL is an https URL, or http to a loopback address.
	URL string
	// SecretFile holds the HMAC key that signs each delivery (at least 16
	// bytes; trailing white space ignored). Required: an unsigned webhook
	// cannot be told from a forged one.
	SecretFile string
	// Timeout bounds one delivery attempt; 5s when zero.
	Timeout time.Duration
	// Attempts is how many times a delivery is tried; 5 when zero.
	Attempts int
	// Queue bounds the notifications waiting; 1000 when zero.
	Queue int
}

// Mode says whether a ladder acts.
type Mode string

// Modes.
const (
	// ModeDryRun records what the ladder would have done and does
	// nothing: the default, so that a new ladder is watched before it is
	// trusted.
	ModeDryRun Mode = "dry_run"
	// ModeEnforce acts.
	ModeEnforce Mode = "enforce"
)

// Action is what a step does.
type Action string

// Actions, from the mildest.
const (
	// ActionObserve only records (and notifies) that the caller's trust
	// reached the step's level.
	ActionObserve Action = "observe"
	// ActionStepUp, ActionRestrict and ActionRateLimit are enforced by the
	// data plane through policy rules on trust.level (a step_up, restrict
	// or rate_limit rule whose when reads trust.level); the ladder records
	// that the caller reached them.
	ActionStepUp    Action = "step_up"
	ActionRestrict  Action = "restrict"
	ActionRateLimit Action = "rate_limit"
	// ActionQuarantine quarantines instances of the identity (registry
	// entries): their credentials are revoked and no new ones issued until
	// a person releases them. Never more than the ladder's
	// MaxQuarantineShare of the identity's instances.
	ActionQuarantine Action = "quarantine"
	// ActionRevokeCredentials revokes every credential of the identity
	// issued so far (SVIDs and tokens); its workloads obtain fresh ones.
	ActionRevokeCredentials Action = "revoke_credentials"
	// ActionRequireRotation makes the identity's long-lived credentials
	// (client secrets, registered keys) stop working after a grace period,
	// so that their owner must rotate them.
	ActionRequireRotation Action = "require_rotation"
)

var allActions = []Action{ActionObserve, ActionStepUp, ActionRestrict, ActionRateLimit,
	ActionQuarantine, ActionRevokeCredentials, ActionRequireRotation}

// ServerSide reports whether the action is carried out by the server
// (quarantine, revoke_credentials, require_rotation) rather than by the
// data plane's policy; guard rails hold back only server-side actions.
func (a Action) ServerSide() bool {
	return a == ActionQuarantine || a == ActionRevokeCredentials || a == ActionRequireRotation
}

// valid reports whether a is one of the actions.
func (a Action) valid() bool { return slices.Contains(allActions, a) }

// Ladder is the remediation of the identities its patterns select.
type Ladder struct {
	// Name identifies the ladder in events: 1 to 128 letters, digits, '.',
	// '_' or '-'. Required, unique in a file.
	Name string
	// Description is free text for people.
	Description string
	// Identities select callers by SPIFFE ID (or client ID): exact, or
	// patterns in which '*' matches within one path segment and a final
	// "/**" any rest. Required.
	Identities []string
	// Allow lists identities (same patterns) the ladder never acts on:
	// their steps are recorded as skipped.
	Allow []string
	// Mode is dry_run (the default, when empty) or enforce.
	Mode Mode
	// Evidence is the least evidence a server-side step needs; a step
	// may ask for more.
	Evidence Evidence
	// Cooldown is the least time between two server-side actions on one
	// identity; 10m when zero.
	Cooldown time.Duration
	// MaxQuarantineShare is the largest share of an identity's instances
	// that may be quarantined, counting those already quarantined: with
	// 0.5 (the default, when zero) and four instances, two. A share below
	// 1 never quarantines an identity's only instance.
	MaxQuarantineShare float64
	// Steps are the rungs, each taken once per episode (from the caller's
	// trust falling to a step's level until it recovers above every step's
	// level). Required.
	Steps []Step
}

// Evidence is a minimum of evidence: what must weigh on a caller's score
// for a server-side step to be taken.
type Evidence struct {
	// Signals is the least number of signal kinds and context inputs
	// weighing on the score; 1 when zero: never act on a caller nothing
	// weighs on.
	Signals int
	// Severity is the least severity of the gravest of them (a context
	// input counts by its weight: 500 critical, 300 high, 150 medium,
	// below low); zero accepts any.
	Severity trust.Severity
}

// Step is one rung of a ladder.
type Step struct {
	// Level is the trust level at or below which the step is taken:
	// medium, low or untrusted (every caller is at or below high).
	Level trust.Level
	// After delays the step until the caller has been at or below Level
	// this long.
	After time.Duration
	// Action is what the step does.
	Action Action
	// Evidence raises the ladder's minimum for this step; its zero fields
	// take the ladder's.
	Evidence Evidence
}

// Defaults of a parsed ladder.
const (
	DefaultCooldown           = 10 * time.Minute
	DefaultMaxQuarantineShare = 0.5
	DefaultMinSignals         = 1
)

// need returns the evidence a step needs: the step's fields, the ladder's
// where the step leaves them zero.
func (l *Ladder) need(s *Step) Evidence {
	e := l.Evidence
	if s.Evidence.Signals > e.Signals {
		e.Signals = s.Evidence.Signals
	}
	if s.Evidence.Severity > e.Severity {
		e.Severity = s.Evidence.Severity
	}
	return e
}

// ceiling returns the highest level of any step: an episode lasts while
// the caller is at or below it.
func (l *Ladder) ceiling() trust.Level {
	var top trust.Level
	for _, s := range l.Steps {
		top = max(top, s.Level)
	}
	return top
}
