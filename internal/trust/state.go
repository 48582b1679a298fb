package trust

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/policy"
)

// MaxScore is the highest trust score.
const MaxScore = 1000

// Level is a band of trust scores.
type Level uint8

// Levels, from the lowest. The bands are fixed so that a proxy can derive
// the level from a score alone ([LevelOf]).
const (
	// LevelUntrusted: score below 200.
	LevelUntrusted Level = iota
	// LevelLow: 200 to 499.
	LevelLow
	// LevelMedium: 500 to 799.
	LevelMedium
	// LevelHigh: 800 and above.
	LevelHigh
)

var levelNames = [...]string{"untrusted", "low", "medium", "high"}

// String returns "untrusted", "low", "medium" or "high".
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "level?"
}

// LevelOf returns the level of a score.
func LevelOf(score int) Level {
	switch {
	case score >= 800:
		return LevelHigh
	case score >= 500:
		return LevelMedium
	case score >= 200:
		return LevelLow
	}
	return LevelUntrusted
}

// Strength returns the starting score of a caller that authenticates
// with credType: how much a stolen copy of the credential is worth to an
// attacker, inversely.
//
//	x509_svid, mtls, mtls_bound, tls_client_auth    900  (a key that never leaves the workload, proven in TLS)
//	dpop                                            850  (a token bound to a key)
//	jwt_svid, private_key_jwt                       800  (a signed assertion)
//	bearer, and unknown or empty types              700  (a token anyone holding it can use)
//	client_secret, client_secret_basic/_post        600  (a shared secret)
//
// The weakest credential a caller used within the last day sets its base.
func Strength(credType string) int {
	switch credType {
	case "x509_svid", "x509", "mtls", "mtls_bound", "tls_client_auth":
		return 900
	case "dpop":
		return 850
	case "jwt_svid", "private_key_jwt":
		return 800
	case "client_secret", "client_secret_basic", "client_secret_post", "secret":
		return 600
	}
	return 700
}

// Starting returns the trust state of a caller without history that
// authenticates with credType: the credential's strength, no signals.
// Starting("") (score 700, medium) is the state a data plane that has not
// heard from the engine gives every caller: never zero, so that a policy
// such as trust.score > 500 does not deny every caller of a new system.
func Starting(credType string) policy.Trust {
	s := Strength(credType)
	return policy.Trust{Score: s, Level: LevelOf(s).String()}
}

// trustState is the trust of one caller: its credential's base and the
// weight of each kind of signal on it.
type trustState struct {
	pen      [numKinds]float32 // score taken away per kind of signal
	at       uint32            // when pen was last decayed
	alarm    uint32            // last finding of any kind
	baseAt   uint32            // last use of the credential type that set base
	base     uint16            // Strength of the weakest credential of the last day
	reported uint16            // score last reported in a Change (or the starting one)
	level    uint8             // level last reported
	hasCtx   bool              // context inputs exist for the caller
	_        [2]byte
}

// credential keeps the caller's base: the strength of the weakest
// credential type it used within a day.
func (e *Engine) credential(o *obs) {
	t := &o.cs.trust
	b := uint16(Strength(o.c.CredentialType))
	switch {
	case b == t.base:
		t.baseAt = o.sec
	case b < t.base || o.sec-t.baseAt >= 86400:
		t.base, t.baseAt = b, o.sec
		e.reevaluate(o.i, o.cs, o.sec, "credential "+credentialName(o.c.CredentialType))
	}
}

// credentialName returns credType, or "of unknown type".
func credentialName(credType string) string {
	if credType == "" {
		return "of unknown type"
	}
	return credType
}

// raise records a finding of kind k for the call's caller: a new incident
// raises a signal and lowers trust; a finding within an incident extends
// it, and, if graver than the incident so far, lowers trust further
// (a Change, not a second signal). evidence builds the
// signal's evidence; it is called only when a signal is raised.
func (e *Engine) raise(o *obs, k Kind, sev Severity, evidence func() map[string]string) {
	if e.disabled[k] {
		return
	}
	cs := o.cs
	inc := &cs.inc
	ongoing := inc.last[k] != 0 && o.sec-inc.last[k] < e.cooldown
	inc.last[k] = o.sec
	e.decay(cs, o.sec)
	cs.trust.alarm = o.sec
	if ongoing && sev <= inc.sev[k] {
		return
	}
	t := &cs.trust
	add := float32(e.t.Penalty[sev])
	if ongoing {
		add -= float32(e.t.Penalty[inc.sev[k]])
	}
	t.pen[k] = min(t.pen[k]+add, MaxScore)
	inc.sev[k] = sev
	if ongoing { // one incident, one signal: a graver finding only weighs more
		e.reevaluate(o.i, cs, o.sec, "signal "+k.String()+" now "+sev.String())
		return
	}
	s := Signal{Time: o.c.Time.UTC(), Identity: e.ids[o.i], Credential: strings.Clone(o.c.Credential),
		Kind: k, Severity: sev, Evidence: evidence()}
	e.stats.Signals++
	if e.cfg.Sink != nil {
		e.cfg.Sink.Signal(s)
	}
	e.reevaluate(o.i, cs, o.sec, "signal "+k.String())
}

// decay lets the caller's signal penalties recover to sec: with the
// half-life RecoveryHalfLife, from QuietPeriod after its last finding.
func (e *Engine) decay(cs *caller, sec uint32) {
	t := &cs.trust
	start := max(t.at, t.alarm+e.quiet)
	if t.alarm == 0 {
		start = t.at
	}
	if sec > start && start != 0 {
		f := float32(math.Exp2(-float64(sec-start) / e.halfLife))
		for k := range t.pen {
			if t.pen[k] *= f; t.pen[k] < 1 {
				t.pen[k] = 0
			}
		}
	}
	t.at = max(t.at, sec)
}

// score returns the caller's score at sec, penalties decayed.
func (e *Engine) score(i int32, cs *caller, sec uint32) int {
	e.decay(cs, sec)
	t := &cs.trust
	s := float32(t.base)
	for _, p := range t.pen {
		s -= p
	}
	if t.hasCtx {
		for _, in := range e.contexts[e.ids[i]] {
			if in.active(sec) {
				s -= float32(in.Weight)
			}
		}
	}
	return int(min(max(s+0.5, 0), MaxScore))
}

// penalized reports whether anything weighs on the caller's score.
func (cs *caller) penalized() bool {
	for _, p := range cs.trust.pen {
		if p > 0 {
			return true
		}
	}
	return cs.trust.hasCtx
}

// reevaluate recomputes the caller's score at sec and reports a Change
// when its level changed or its score moved by ScoreStep since the last
// report.
func (e *Engine) reevaluate(i int32, cs *caller, sec uint32, cause string) {
	t := &cs.trust
	s := e.score(i, cs, sec)
	if cs.penalized() {
		e.dirty[i] = struct{}{}
	} else {
		delete(e.dirty, i)
	}
	l := LevelOf(s)
	if l == Level(t.level) && abs(s-int(t.reported)) < e.t.ScoreStep {
		return
	}
	ch := Change{Time: timeOf(sec), Identity: e.ids[i],
		From: policy.Trust{Score: int(t.reported), Level: Level(t.level).String()},
		To:   e.trustOf(i, cs, s), Reasons: e.reasons(i, cs, sec), Cause: cause}
	t.reported, t.level = uint16(s), uint8(l)
	e.stats.Changes++
	if e.cfg.Sink != nil {
		e.cfg.Sink.Change(ch)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// trustOf returns the policy view of a caller whose score is s: the
// score, its level, and the names of the signals and context inputs that
// weigh on it.
func (e *Engine) trustOf(i int32, cs *caller, s int) policy.Trust {
	tr := policy.Trust{Score: s, Level: LevelOf(s).String()}
	for k, p := range cs.trust.pen {
		if p >= 1 {
			tr.Signals = append(tr.Signals, Kind(k).String())
		}
	}
	if cs.trust.hasCtx {
		for _, in := range e.contexts[e.ids[i]] {
			if in.active(cs.trust.at) {
				tr.Signals = append(tr.Signals, "context."+in.Kind)
			}
		}
	}
	return tr
}

// Reason is one thing that weighs on a trust score.
type Reason struct {
	// Kind is "credential" (the base score), "signal" or "context".
	Kind string `json:"kind"`
	// Name is the credential type, the signal kind or the context kind.
	Name string `json:"name"`
	// Points is the effect on the score: the base for the credential,
	// negative for what lowers it.
	Points int `json:"points"`
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
			rs = append(rs, Reason{Kind: "signal", Name: Kind(k).String(), Points: -int(p + 0.5),
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
