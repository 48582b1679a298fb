package trust

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/policy"
)

// What the engine reports about trust: the reasons behind a score, the
// changes of a caller's state and their ledger events, the state as
// asked for, and the admin's and the clock's hands on it (Clear, Tick).

// Reason is one thing that weighs on a trust score.
type Reason struct {
	// Kind is "credential" (the base score), "signal" or "context".
	Kind string `json:"kind"`
	// Name is the credential type, the signal kind or the context kind.
	Name string `json:"name"`
	// Points is the effect on the score: the base for the credential,
	// negative for what lowers it.
	Points int `json:"points"`
	// Severity is a signal's severity (the gravest finding of its
	// incident); zero for the credential and context inputs.
	Severity Severity `json:"severity,omitzero"`
	// Detail explains it in words.
	Detail string `json:"detail,omitempty"`
	// Since is when it started weighing (the incident's last finding for
	// a signal); Until, for a context input, when it expires.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
}

// reasons lists what weighs on the caller's score at sec.
func (e *Engine) reasons(i int32, cs *caller, sec uint32) []Reason {
	t := &cs.trust
	rs := []Reason{{Kind: "credential", Name: strengthName(int(t.base)), Points: int(t.base),
		Detail: "starting score of the weakest credential type used in the last day", Since: timeOf(t.baseAt)}}
	for k, p := range t.pen {
		if p >= 1 {
			detail := "recovering"
			if sec-t.alarm < e.quiet {
				detail = "incident under way or recent; recovery starts " + e.t.QuietPeriod.String() + " after the last finding"
			}
			rs = append(rs, Reason{Kind: "signal", Name: Kind(k).String(), Points: -int(p + 0.5), Severity: cs.inc.sev[k],
				Detail: cs.inc.sev[k].String() + " severity; " + detail, Since: timeOf(cs.inc.last[k])})
		}
	}
	if t.hasCtx {
		for _, in := range e.contexts[e.ids[i]] {
			if in.active(sec) {
				rs = append(rs, Reason{Kind: "context", Name: in.Kind, Points: -in.Weight,
					Detail: in.Reason, Since: in.Added, Until: in.Expires})
			}
		}
	}
	return rs
}

// strengthName names a base score's credential class.
func strengthName(s int) string {
	switch {
	case s >= 900:
		return "x509_svid"
	case s >= 850:
		return "dpop"
	case s >= 800:
		return "private_key_jwt"
	case s >= 700:
		return "bearer"
	}
	return "client_secret"
}

// Change is a change of a caller's trust state, for the server to push
// to the data plane and, when the level changed, to write to the ledger
// (see [Change.Event]).
type Change struct {
	// Time is when it changed: the time of the call that changed it, or
	// of the engine's clock for Clear, Tick and context inputs.
	Time time.Time `json:"time"`
	// Identity is the caller's.
	Identity string `json:"identity"`
	// From is the state last reported (score and level only).
	From policy.Trust `json:"from"`
	// To is the new state.
	To policy.Trust `json:"to"`
	// Reasons lists what weighs on the new score.
	Reasons []Reason `json:"reasons"`
	// Cause says what changed it: "signal rate.spike", "recovery",
	// "context vulnerability", "cleared by admin-1", "credential bearer".
	Cause string `json:"cause"`
}

// LevelChanged reports whether the change crosses a level.
func (c *Change) LevelChanged() bool { return c.From.Level != c.To.Level }

// State is a caller's trust state with its reasons.
type State struct {
	// Identity is the caller's.
	Identity string `json:"identity"`
	// Trust is what policy sees.
	Trust policy.Trust `json:"trust"`
	// Reasons lists what weighs on the score.
	Reasons []Reason `json:"reasons"`
	// Known says the engine has seen the identity; an unknown one has the
	// starting state of an unknown credential type.
	Known bool `json:"known"`
	// WarmingUp says the engine is still learning the caller: no detector
	// fires for it yet.
	WarmingUp bool `json:"warming_up,omitempty"`
	// FirstSeen and LastSeen date its first and last call; Calls counts
	// them.
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	Calls     int64     `json:"calls,omitempty"`
}

// State returns the trust state of identity at the engine's clock; the
// starting state of an unknown credential for an identity it never saw.
func (e *Engine) State(identity string) State {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.index[identity]
	if !ok {
		return State{Identity: identity, Trust: Starting(""),
			Reasons: []Reason{{Kind: "credential", Name: "unknown", Points: Strength(""), Detail: "no history"}}}
	}
	cs := e.at(i)
	sec := max(secOf(e.cfg.Clock().UnixMilli()), cs.last)
	s := e.score(i, cs, sec)
	return State{Identity: identity, Trust: e.trustOf(i, cs, s), Reasons: e.reasons(i, cs, sec), Known: true,
		WarmingUp: !e.warm(cs, sec), FirstSeen: timeOf(cs.first), LastSeen: timeOf(cs.last), Calls: int64(cs.calls)}
}

// Clear restores identity's trust at once, as an admin (by) decided: its
// signals' weight, its incidents and its sustained-rise sums are reset
// and its context inputs removed; what it learned stays. The Change goes
// to the sink with the cause "cleared by <by>". It returns the new state,
// and ErrUnknown for an identity the engine does not know.
func (e *Engine) Clear(identity, by string) (State, error) {
	e.mu.Lock()
	i, ok := e.index[identity]
	if !ok {
		e.mu.Unlock()
		return State{}, ErrUnknown
	}
	cs := e.at(i)
	sec := max(secOf(e.cfg.Clock().UnixMilli()), cs.last)
	cs.trust.pen = [numKinds]float32{}
	cs.trust.alarm, cs.trust.hasCtx = 0, false
	cs.inc = incidents{}
	cs.rate.sC, cs.rate.sB, cs.rate.xC, cs.rate.xB = 0, 0, 0, 0
	cs.route.novel, cs.fan.novel, cs.route.big = 0, 0, 0
	cs.seq.window = 0
	cs.errs.errs = 0
	delete(e.contexts, identity)
	e.reevaluate(i, cs, sec, "cleared by "+by)
	e.mu.Unlock()
	return e.State(identity), nil
}

// Tick lets the trust of penalized callers recover, and expires context
// inputs, up to the engine's clock, reporting the Changes to the sink.
// The server calls it every few seconds; it costs in proportion to the
// callers with something weighing on their score, not to all.
func (e *Engine) Tick() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := secOf(e.cfg.Clock().UnixMilli())
	for i := range e.dirty {
		cs := e.at(i)
		sec := max(now, cs.last)
		cause := "recovery"
		if cs.trust.hasCtx && e.expire(e.ids[i], sec) {
			cause = "context expired"
			cs.trust.hasCtx = len(e.contexts[e.ids[i]]) > 0
		}
		e.reevaluate(i, cs, sec, cause)
	}
}

// Event returns the ledger event of c, an audit.TypeTrustLevelChanged
// naming the caller as target, the cause as action and the reasons in
// the details. Write it for changes whose LevelChanged is true; an
// admin's Clear is also the admin's own audited action.
func (c *Change) Event() audit.Event {
	d := map[string]string{
		"from_level": c.From.Level, "from_score": strconv.Itoa(c.From.Score),
		"to_level": c.To.Level, "to_score": strconv.Itoa(c.To.Score),
	}
	var why []string
	for _, r := range c.Reasons {
		why = append(why, fmt.Sprintf("%s %s %+d", r.Kind, r.Name, r.Points))
	}
	return audit.Event{
		Time: c.Time, Type: audit.TypeTrustLevelChanged, Actor: audit.Actor{Kind: "system", ID: "kith-trust"},
		Target: c.Identity, Action: c.Cause, Outcome: audit.OutcomeSuccess,
		Trust:  &audit.Trust{Score: c.To.Score, Signals: c.To.Signals},
		Reason: strings.Join(why, "; "), Details: d,
	}
}
