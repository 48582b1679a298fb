package policy

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Trace is how one rule fared against a call.
type Trace struct {
	// Rule is the rule.
	Rule RuleRef `json:"rule"`
	// Target is the target of its policy.
	Target string `json:"target"`
	// Action is the rule's action.
	Action Action `json:"action"`
	// DryRun says the rule's policy is in dry-run mode.
	DryRun bool `json:"dry_run,omitempty"`
	// Matched says every part of the rule matched.
	Matched bool `json:"matched"`
	// Decides says this rule made the enforced decision.
	Decides bool `json:"decides,omitempty"`
	// Why says what did not match, or that everything did.
	Why string `json:"why"`
}

// Explanation is every rule considered for a call, why each matched or
// not, and the resulting decision.
type Explanation struct {
	// Decision is the decision, the same [Set.Decide] makes.
	Decision Decision `json:"-"`
	// Revision, Result and DryRun are the decision in its record form.
	Revision int64         `json:"revision"`
	Result   RecordResult  `json:"result"`
	DryRun   *RecordResult `json:"dry_run,omitempty"`
	// Policies are the names of the policies whose target matches.
	Policies []string `json:"policies"`
	// Other is how many policies were not considered: they protect other
	// targets.
	Other int `json:"other"`
	// Rules are the rules of the considered policies, in (policy, index)
	// order.
	Rules []Trace `json:"rules"`
}

// Explain decides in like [Set.Decide] but checks every rule of every
// policy whose target matches, not only those the caller index selects,
// and says why each matched or not. It is for people (kith policy
// explain) and is not fast.
func (s *Set) Explain(in *Input) *Explanation {
	x := s.newEvalCtx(in)
	var enf, all combiner
	ex := &Explanation{Rules: []Trace{}, Policies: []string{}}
	for _, tr := range s.targets {
		if tr.target != in.Target && !(tr.isPattern && tr.pattern.match(in.Target)) {
			continue
		}
		x.protected = x.protected || tr.enforce
		x.shadowed = x.shadowed || tr.dryRun
		ex.Policies = append(ex.Policies, tr.policies...)
		for _, r := range tr.all {
			f, err := r.check(&x)
			ex.Rules = append(ex.Rules, Trace{Rule: r.ref, Target: tr.target, Action: r.action, DryRun: r.dryRun,
				Matched: f == matched, Why: r.why(f, err, &x)})
			if f != matched && f != failError {
				continue
			}
			if !r.dryRun {
				enf.add(r, err)
			}
			all.add(r, err)
		}
	}
	ex.Other = len(s.docs) - len(ex.Policies)
	ex.Decision = Decision{Outcome: enf.outcome(&x, x.protected), Revision: s.revision, Protected: x.protected, HasDryRun: x.shadowed}
	if x.shadowed {
		ex.Decision.DryRun = all.outcome(&x, true)
	}
	ex.Revision, ex.Result = s.revision, recordResult(&ex.Decision.Outcome)
	if x.shadowed {
		dr := recordResult(&ex.Decision.DryRun)
		ex.DryRun = &dr
	}
	for i := range ex.Rules {
		ex.Rules[i].Decides = ex.Rules[i].Rule == ex.Decision.Rule && !ex.Decision.Rule.IsZero()
	}
	return ex
}

// why says in words what check found.
func (r *rule) why(f failure, err error, x *evalCtx) string {
	in := x.in
	switch f {
	case matched:
		if r.action == ActionStepUp {
			return "matched: the token does not satisfy the step-up"
		}
		return "matched"
	case failCaller:
		if in.Caller.SPIFFEID == "" {
			return "the caller has no SPIFFE ID; from.spiffe_ids needs one"
		}
		return fmt.Sprintf("caller %s matches none of from.spiffe_ids %s", in.Caller.SPIFFEID, listText(r.idStrings()))
	case failTrustDomain:
		return fmt.Sprintf("caller trust domain %q is not in from.trust_domains %s", x.callerTD, listText(r.tds))
	case failClient:
		return fmt.Sprintf("client ID %q is not in from.client_ids %s", in.Caller.ClientID, listText(r.clients))
	case failScopes:
		if !in.Token.Present {
			return fmt.Sprintf("no token; from.scopes requires %s", listText(r.scopes))
		}
		return fmt.Sprintf("the token's scopes %s lack some of from.scopes %s", listText(in.Token.Scopes), listText(r.scopes))
	case failMethod:
		return fmt.Sprintf("method %q is not in to.methods", in.Request.Method)
	case failHost:
		return fmt.Sprintf("host %q matches none of to.hosts", in.Request.Host)
	case failPath:
		ps := make([]string, len(r.paths))
		for i, p := range r.paths {
			ps[i] = p.raw
		}
		return fmt.Sprintf("path %q matches none of to.paths %s", in.Request.Path, listText(ps))
	case failStepUpMet:
		return fmt.Sprintf("the token already satisfies the step-up (acr %q, authenticated at %s)", in.Token.ACR,
			time.Unix(in.Token.AuthTime, 0).UTC().Format(time.RFC3339))
	case failWhen:
		return fmt.Sprintf("when is false: %s", r.when.src)
	case failError:
		return fmt.Sprintf("when failed, so the call is denied: %v", err)
	}
	return "?"
}

// idStrings returns the rule's SPIFFE ID patterns as written.
func (r *rule) idStrings() []string {
	out := make([]string, len(r.ids))
	for i, p := range r.ids {
		out[i] = p.raw
	}
	return out
}

// listText renders a list as [a, b].
func listText(vs []string) string { return "[" + strings.Join(vs, ", ") + "]" }

// WriteText writes the explanation for people: the decision, then every
// rule considered with the reason it matched or not.
func (ex *Explanation) WriteText(w io.Writer) error {
	d := &ex.Decision
	var b strings.Builder
	fmt.Fprintf(&b, "Decision: %s\n", d.Action)
	fmt.Fprintf(&b, "Reason:   %s\n", d.Reason)
	if d.Err != nil {
		fmt.Fprintf(&b, "Error:    %v\n", d.Err)
	}
	writeObligations(&b, &d.Obligations)
	if d.HasDryRun {
		fmt.Fprintf(&b, "Dry run:  %s (%s)\n", d.DryRun.Action, d.DryRun.Reason)
	}
	fmt.Fprintf(&b, "Revision: %d\n", d.Revision)
	if len(ex.Policies) == 0 {
		fmt.Fprintf(&b, "\nNo policy targets this service (%d policies protect others).\n", ex.Other)
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "\nRules considered (policies %s; %d other policies protect other targets):\n", strings.Join(ex.Policies, ", "), ex.Other)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, t := range ex.Rules {
		mark := " "
		if t.Decides {
			mark = "*"
		}
		label := t.Rule.String()
		if t.Rule.Name != "" {
			label += " (" + t.Rule.Name + ")"
		}
		mode := ""
		if t.DryRun {
			mode = " [dry run]"
		}
		fmt.Fprintf(tw, "%s %s\t%s%s\t%s\n", mark, label, t.Action, mode, t.Why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("(* decides)\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeObligations writes the obligations that are set.
func writeObligations(b *strings.Builder, o *Obligations) {
	if o.Scopes != nil {
		fmt.Fprintf(b, "Scopes:   only %s\n", listText(o.Scopes))
	}
	if o.RateLimit != nil {
		fmt.Fprintf(b, "Rate:     %g/s, burst %d, per caller\n", o.RateLimit.RPS, o.RateLimit.Burst)
	}
	if o.StepUp != nil {
		fmt.Fprintf(b, "Step-up:  WWW-Authenticate: %s\n", o.StepUp.Challenge())
	}
	if o.Record {
		fmt.Fprintf(b, "Record:   yes (audit)\n")
	}
	if o.Signal != "" {
		fmt.Fprintf(b, "Signal:   %s\n", o.Signal)
	}
}
