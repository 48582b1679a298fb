package policy

import (
	"errors"
	"fmt"
	"slices"
)

// ErrNonCanonicalPath is the Err of a decision on a call to a protected
// target whose path is not clean (empty segments, "." or "..", control
// characters): such calls are denied rather than matched.
var ErrNonCanonicalPath = errors.New("request path is not canonical")

// Reasons of decisions not made by a rule.
const (
	reasonUnprotected = "no policy protects the target: allowed"
	reasonDefaultDeny = "no rule allows the call: a protected target denies by default"
	reasonBadPath     = "the request path is not canonical (empty, '.' or '..' segments, control characters): denied"
)

// failure says which part of a rule did not match a call; matched when
// all did.
type failure uint8

const (
	matched failure = iota
	failCaller
	failTrustDomain
	failClient
	failScopes
	failMethod
	failHost
	failPath
	failStepUpMet
	failWhen
	failError
)

// evalCtx is what one decision computes once about its Input.
type evalCtx struct {
	set      *Set
	in       *Input
	callerTD string
	method   uint16
	now      int64 // Unix seconds; 0 until needed

	protected, shadowed bool
	pathOK              bool
}

// newEvalCtx prepares the evaluation of in.
func (s *Set) newEvalCtx(in *Input) evalCtx {
	x := evalCtx{set: s, in: in, method: methodBit(in.Request.Method), pathOK: canonicalPath(in.Request.Path)}
	if in.Caller.SPIFFEID != "" {
		x.callerTD = trustDomainOf(in.Caller.SPIFFEID)
	} else {
		x.callerTD = in.Caller.TrustDomain
	}
	return x
}

// unixNow returns the decision time in Unix seconds.
func (x *evalCtx) unixNow() int64 {
	if x.now == 0 {
		if !x.in.Time.IsZero() {
			x.now = x.in.Time.Unix()
		} else {
			x.now = x.set.clock().Unix()
		}
	}
	return x.now
}

// check matches r against the call: cheap selectors first, the CEL
// condition last. It returns matched, the first part that did not match,
// or failError with the condition's error.
func (r *rule) check(x *evalCtx) (failure, error) {
	in := x.in
	if len(r.ids) > 0 {
		ok := false
		for i := range r.ids {
			if r.ids[i].match(in.Caller.SPIFFEID) {
				ok = true
				break
			}
		}
		if !ok {
			return failCaller, nil
		}
	}
	if len(r.tds) > 0 && !slices.Contains(r.tds, x.callerTD) {
		return failTrustDomain, nil
	}
	if len(r.clients) > 0 && !slices.Contains(r.clients, in.Caller.ClientID) {
		return failClient, nil
	}
	if !in.Token.hasScopes(r.scopes) {
		return failScopes, nil
	}
	if r.methods != 0 && r.methods&x.method == 0 {
		return failMethod, nil
	}
	if len(r.hosts) > 0 {
		ok := false
		for i := range r.hosts {
			if r.hosts[i].match(in.Request.Host) {
				ok = true
				break
			}
		}
		if !ok {
			return failHost, nil
		}
	}
	if len(r.paths) > 0 {
		ok := false
		for i := range r.paths {
			if r.paths[i].match(in.Request.Path) {
				ok = true
				break
			}
		}
		if !ok {
			return failPath, nil
		}
	}
	if r.stepUp != nil && r.stepUp.satisfiedBy(&in.Token, x.unixNow()) {
		return failStepUpMet, nil
	}
	if r.when != nil {
		ok, err := r.when.eval(in)
		if err != nil {
			return failError, err
		}
		if !ok {
			return failWhen, nil
		}
	}
	return matched, nil
}

// combiner folds matching rules into an outcome, whatever their order:
// the highest precedence wins, ties go to the lowest ord.
type combiner struct {
	best     *rule
	errRule  *rule
	err      error
	keep     []string // restrict: intersection of the scopes kept
	rate     *RateLimit
	rateRule *rule // the rule of rate
	audit    bool
}

// stricter reports whether rate_limit rule a allows less than b (ties go
// to the lower ord).
func stricter(a, b *rule) bool {
	switch {
	case a.rate.RPS != b.rate.RPS:
		return a.rate.RPS < b.rate.RPS
	case a.rate.Burst != b.rate.Burst:
		return a.rate.Burst < b.rate.Burst
	}
	return a.ord < b.ord
}

// add folds in a rule that matched, or whose condition failed with err.
func (c *combiner) add(r *rule, err error) {
	if err != nil {
		if c.errRule == nil || r.ord < c.errRule.ord {
			c.errRule, c.err = r, err
		}
		return
	}
	switch r.action {
	case ActionAudit:
		c.audit = true
	case ActionRestrict:
		if c.keep == nil {
			c.keep = r.keep
		} else {
			c.keep = intersect(c.keep, r.keep)
		}
	case ActionRateLimit:
		if c.rateRule == nil || stricter(r, c.rateRule) {
			c.rate, c.rateRule = r.rate, r
		}
	}
	if c.best == nil || r.action > c.best.action || r.action == c.best.action && r.ord < c.best.ord {
		c.best = r
	}
}

// intersect returns the elements of a that are in b; it allocates.
func intersect(a, b []string) []string {
	out := []string{}
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// outcome returns the combined outcome. An unprotected target allows;
// then quarantine and deny, then a failed condition or a non-canonical
// path (deny), then the best matching rule, else the default deny.
func (c *combiner) outcome(x *evalCtx, protected bool) Outcome {
	b := c.best
	switch {
	case !protected:
		return Outcome{Action: ActionAllow, Reason: reasonUnprotected}
	case b != nil && b.action >= ActionDeny:
		return c.from(b)
	case c.err != nil:
		r := c.errRule
		return Outcome{Action: ActionDeny, Rule: r.ref, Inputs: r.inputs, Err: c.err,
			Reason: fmt.Sprintf("%s: %v: denied (fail closed)", r.reason, c.err)}
	case !x.pathOK:
		return Outcome{Action: ActionDeny, Reason: reasonBadPath, Err: ErrNonCanonicalPath, Inputs: []string{"request.path"}}
	case b != nil:
		return c.from(b)
	}
	return Outcome{Action: ActionDeny, Reason: reasonDefaultDeny}
}

// from returns the outcome decided by b; among rate_limit rules, the one
// whose rate applies decides.
func (c *combiner) from(b *rule) Outcome {
	if b.action == ActionRateLimit {
		b = c.rateRule
	}
	o := Outcome{Action: b.action, Rule: b.ref, Reason: b.reason, Inputs: b.inputs}
	o.Obligations.Record = c.audit
	switch b.action {
	case ActionRestrict:
		o.Obligations.Scopes = c.keep
		o.Obligations.RateLimit = c.rate
	case ActionRateLimit:
		o.Obligations.RateLimit = c.rate
	case ActionStepUp:
		o.Obligations.StepUp = b.stepUp
	case ActionQuarantine:
		o.Obligations.Signal = SignalQuarantine
	}
	return o
}

// Decide decides the call in: it finds the policies whose target matches
// in.Target and the rules among them that can match the caller, checks
// each, and combines those that match (see the package documentation).
// Decide never fails: an error while evaluating a condition denies the
// call and is reported in the decision's Err and Reason.
//
// For rules without a when condition and a reused Input, Decide
// allocates nothing.
func (s *Set) Decide(in *Input) Decision {
	x := s.newEvalCtx(in)
	var enf, all combiner
	if tr := s.exact[in.Target]; tr != nil {
		s.visit(tr, &x, &enf, &all)
	}
	if len(s.patByTD) > 0 {
		for _, tr := range s.patByTD[trustDomainOf(in.Target)] {
			if tr.pattern.match(in.Target) {
				s.visit(tr, &x, &enf, &all)
			}
		}
	}
	for _, tr := range s.patAny {
		if tr.pattern.match(in.Target) {
			s.visit(tr, &x, &enf, &all)
		}
	}
	d := Decision{Outcome: enf.outcome(&x, x.protected), Revision: s.revision, Protected: x.protected, HasDryRun: x.shadowed}
	if x.shadowed {
		d.DryRun = all.outcome(&x, true)
	}
	return d
}

// visit checks the rules of tr that can match the caller.
func (s *Set) visit(tr *targetRules, x *evalCtx, enf, all *combiner) {
	x.protected = x.protected || tr.enforce
	x.shadowed = x.shadowed || tr.dryRun
	in := x.in
	if in.Caller.SPIFFEID != "" {
		visitRules(tr.byID[in.Caller.SPIFFEID], x, enf, all)
	}
	if x.callerTD != "" {
		visitRules(tr.byTD[x.callerTD], x, enf, all)
	}
	if in.Caller.ClientID != "" {
		visitRules(tr.byClient[in.Caller.ClientID], x, enf, all)
	}
	visitRules(tr.any, x, enf, all)
}

// visitRules checks rules and folds those that match.
func visitRules(rules []*rule, x *evalCtx, enf, all *combiner) {
	for _, r := range rules {
		f, err := r.check(x)
		if f != matched && f != failError {
			continue
		}
		if !r.dryRun {
			enf.add(r, err)
		}
		all.add(r, err)
	}
}
