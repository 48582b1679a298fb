package trust

import (
	"math"
	"strings"

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
