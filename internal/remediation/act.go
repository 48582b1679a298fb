package remediation

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/trust"
)

// Guards, as the guard detail of a skipped step names them.
const (
	GuardAllowList   = "allow_list"
	GuardEvidence    = "evidence"
	GuardCooldown    = "cooldown"
	GuardShare       = "share"
	GuardNoInstances = "no_instances"
)

// Retries of a failed server-side step.
const (
	// maxTries is how many times a step is tried before the ladder gives
	// up on it for the episode.
	maxTries = 3
	// minRetry is the least delay before a failed step is tried again
	// (the ladder's cooldown if longer).
	minRetry = time.Minute
)

// take takes step i of ep's ladder for identity id, unless a guard rail
// holds it back.
func (r *Remediator) take(ctx context.Context, id string, ep *episode, i int, now time.Time) {
	l := ep.ladder
	s := &l.Steps[i]
	ev := measure(ep.reasons)
	if !s.Action.ServerSide() {
		r.taken(ctx, id, ep, i, ev, nil, nil)
		return
	}
	if l.allow.match(id) {
		r.hold(ctx, id, ep, i, ev, GuardAllowList, "the identity is on the ladder's allow-list")
		ep.done |= 1 << i
		return
	}
	if need := l.need(s); ev.n < need.Signals || ev.gravest < need.Severity {
		r.hold(ctx, id, ep, i, ev, GuardEvidence, "too little evidence: the step needs "+need.String())
		return
	}
	if last, ok := r.lastAct[id]; ok && now.Sub(last) < l.Cooldown {
		r.hold(ctx, id, ep, i, ev, GuardCooldown, fmt.Sprintf("the ladder acted on this identity at %s; cooldown %s",
			last.UTC().Format(time.RFC3339), l.Cooldown))
		return
	}
	var targets []string
	details := map[string]string{}
	if s.Action == ActionQuarantine {
		p, err := r.pick(ctx, id, l)
		if err != nil {
			r.failed(ctx, id, ep, i, ev, now, nil, fmt.Errorf("list instances: %w", err))
			return
		}
		if p.guard != "" {
			r.hold(ctx, id, ep, i, ev, p.guard, p.why)
			return
		}
		targets = p.targets
		details["instances_total"] = strconv.Itoa(p.total)
		if p.heldBack > 0 {
			details["held_back_by_share"] = strconv.Itoa(p.heldBack)
		}
	}
	r.lastAct[id] = now
	if l.Mode != ModeEnforce || r.follower {
		// A dry run records what it would have done; a follower takes
		// the step as the active replica does, without doing it.
		r.taken(ctx, id, ep, i, ev, targets, details)
		return
	}
	actx, cancel := context.WithTimeout(ctx, r.cfg.ActionTimeout)
	defer cancel()
	reason := fmt.Sprintf("remediation ladder %q step %d: trust %s (score %d); %s", l.Name, i, ep.level, ep.trust.Score, ev)
	var done []string
	var err error
	switch s.Action {
	case ActionQuarantine:
		for _, t := range targets {
			if err = r.cfg.Actions.Quarantine(actx, t, reason); err != nil {
				err = fmt.Errorf("quarantine %s: %w", t, err)
				break
			}
			done = append(done, t)
		}
	case ActionRevokeCredentials:
		err = r.cfg.Actions.RevokeCredentials(actx, id, reason)
	case ActionRequireRotation:
		err = r.cfg.Actions.RequireRotation(actx, id, reason)
	}
	if err != nil {
		r.failed(ctx, id, ep, i, ev, now, done, err)
		return
	}
	r.taken(ctx, id, ep, i, ev, targets, details)
}

// taken records step i as taken (or, in a dry run, as what would have
// been) and marks it done.
func (r *Remediator) taken(ctx context.Context, id string, ep *episode, i int, ev evidence, targets []string, details map[string]string) {
	l := ep.ladder
	s := &l.Steps[i]
	ep.done |= 1 << i
	ep.held[i] = ""
	typ, counter, verb := audit.TypeRemediationActed, &r.stats.Acted, pastTense(s.Action)
	if l.Mode != ModeEnforce {
		typ, counter, verb = audit.TypeRemediationDryRun, &r.stats.DryRun, "would have "+pastTense(s.Action)
	}
	if !s.Action.ServerSide() {
		verb = "reached the " + string(s.Action) + " rung (enforced by policy on trust.level)"
		if s.Action == ActionObserve {
			verb = "observed"
		}
	}
	if details == nil {
		details = map[string]string{}
	}
	if len(targets) > 0 {
		details["instances"] = strings.Join(targets, " ")
	}
	r.tally(counter)
	r.record(ctx, r.event(typ, id, ep, i, audit.OutcomeSuccess, ev, verb, details))
}

// pastTense describes what an action did.
func pastTense(a Action) string {
	switch a {
	case ActionQuarantine:
		return "quarantined instances"
	case ActionRevokeCredentials:
		return "revoked the credentials"
	case ActionRequireRotation:
		return "required rotation of the credentials"
	}
	return string(a)
}

// hold records that guard held step i back, once while the same guard
// holds it.
func (r *Remediator) hold(ctx context.Context, id string, ep *episode, i int, ev evidence, guard, why string) {
	if ep.held[i] == guard {
		return
	}
	ep.held[i] = guard
	r.tally(&r.stats.Skipped)
	r.record(ctx, r.event(audit.TypeRemediationSkipped, id, ep, i, audit.OutcomeDenied, ev, "held back: "+why,
		map[string]string{"guard": guard}))
}

// failed records a failed attempt at step i (done lists the instances
// quarantined before it failed) and schedules a retry, or gives up after
// maxTries.
func (r *Remediator) failed(ctx context.Context, id string, ep *episode, i int, ev evidence, now time.Time, done []string, err error) {
	l := ep.ladder
	ep.tries[i]++
	ep.retryAt[i] = now.Add(max(l.Cooldown, minRetry))
	d := map[string]string{"attempt": strconv.Itoa(int(ep.tries[i])), "error": truncate(err.Error(), 300)}
	if len(done) > 0 {
		d["instances"] = strings.Join(done, " ")
	}
	what := "failed; retrying after " + ep.retryAt[i].UTC().Format(time.RFC3339)
	if ep.tries[i] >= maxTries {
		ep.done |= 1 << i
		what = "failed; giving up for this episode"
	}
	r.tally(&r.stats.Failed)
	r.record(ctx, r.event(audit.TypeRemediationActed, id, ep, i, audit.OutcomeFailure, ev, what, d))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// picked is the instances a quarantine step would act on, or the guard
// that holds it back.
type picked struct {
	targets  []string
	total    int
	heldBack int
	guard    string
	why      string
}

// pick chooses the instances of id to quarantine: those the recent
// signals implicate (all of them when none is), not yet quarantined, as
// many as the ladder's share allows counting those quarantined already.
func (r *Remediator) pick(ctx context.Context, id string, l *compiled) (picked, error) {
	actx, cancel := context.WithTimeout(ctx, r.cfg.ActionTimeout)
	defer cancel()
	insts, err := r.cfg.Fleet.Instances(actx, id, r.recent[id])
	if err != nil {
		return picked{}, err
	}
	p := picked{total: len(insts)}
	if len(insts) == 0 {
		p.guard, p.why = GuardNoInstances, "the identity has no instance to quarantine"
		return p, nil
	}
	var quarantined int
	var implicated, others []string
	for _, in := range insts {
		switch {
		case in.Quarantined:
			quarantined++
		case in.Implicated:
			implicated = append(implicated, in.ID)
		default:
			others = append(others, in.ID)
		}
	}
	cands := implicated
	if len(cands) == 0 {
		cands = others
	}
	if len(cands) == 0 {
		p.guard, p.why = GuardNoInstances, "every instance of the identity is quarantined already"
		return p, nil
	}
	allowed := int(math.Floor(l.MaxQuarantineShare*float64(len(insts)) + 1e-9))
	quota := allowed - quarantined
	if quota <= 0 {
		p.guard = GuardShare
		p.why = fmt.Sprintf("%d of %d instances are quarantined already; the ladder allows %d (max_quarantine_share %g)",
			quarantined, len(insts), allowed, l.MaxQuarantineShare)
		return p, nil
	}
	n := min(quota, len(cands))
	p.targets, p.heldBack = cands[:n], len(cands)-n
	return p, nil
}

// evidence is what weighs on a caller's score: how many signal kinds
// and context inputs, and the gravest.
type evidence struct {
	n       int
	gravest trust.Severity
	names   []string
}

// measure returns the evidence in a state's reasons.
func measure(rs []trust.Reason) evidence {
	var e evidence
	for _, r := range rs {
		var sev trust.Severity
		switch {
		case r.Points >= 0:
			continue
		case r.Kind == "signal":
			sev = r.Severity
		case r.Kind == "context":
			sev = contextSeverity(-r.Points)
		default:
			continue
		}
		e.n++
		e.gravest = max(e.gravest, sev)
		name := r.Kind + " " + r.Name
		if r.Kind == "signal" {
			name = r.Name
		}
		if sev != 0 {
			name += " " + sev.String()
		}
		e.names = append(e.names, name)
	}
	return e
}

// contextSeverity grades a context input by its weight, as the trust
// engine's default penalties grade signals.
func contextSeverity(weight int) trust.Severity {
	switch {
	case weight >= 500:
		return trust.Critical
	case weight >= 300:
		return trust.High
	case weight >= 150:
		return trust.Medium
	}
	return trust.Low
}

// String describes the evidence: "2 (rate.spike high, source.concurrent
// critical)".
func (e evidence) String() string {
	if e.n == 0 {
		return "no evidence"
	}
	return strconv.Itoa(e.n) + " (" + strings.Join(e.names, ", ") + ")"
}

// String describes a minimum of evidence.
func (e Evidence) String() string {
	s := strconv.Itoa(max(e.Signals, 1)) + " signal"
	if e.Signals > 1 {
		s += "s"
	}
	if e.Severity != 0 {
		s += ", the gravest at least " + e.Severity.String()
	}
	return s
}
