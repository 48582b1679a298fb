package policy

import (
	"fmt"
	"io"
	"slices"
	"strconv"
)

// Finding is a problem [Lint] found in policies that compile: a rule that
// can never match, one that never decides, or a policy that denies
// everything.
type Finding struct {
	// Pos is where the rule (or policy) is.
	Pos Position `json:"pos"`
	// Rule is the rule; Index is -1 for a finding about a whole policy.
	Rule RuleRef `json:"rule"`
	// Kind is "unreachable", "shadowed", "redundant", "always-true" or
	// "deny-all".
	Kind string `json:"kind"`
	// Msg explains it.
	Msg string `json:"msg"`
}

// String returns "file:line:col: policy#index: kind: message".
func (f Finding) String() string {
	s := ""
	if p := f.Pos.String(); p != "" {
		s = p + ": "
	}
	ref := f.Rule.Policy
	if f.Rule.Index >= 0 {
		ref = f.Rule.String()
	}
	return s + ref + ": " + f.Kind + ": " + f.Msg
}

// Lint compiles docs and looks for rules that cannot matter:
//
//   - unreachable: the rule's selectors contradict each other (its
//     SPIFFE IDs lie outside its trust domains), or its condition does not
//     depend on the call and is false;
//   - shadowed: an enforced rule without condition that matches every
//     call this rule matches has a higher-precedence action, so this rule
//     never decides;
//   - redundant: such a rule has the same action (of two rules matching
//     the same calls, the one that does not decide is reported);
//   - always-true: a condition that does not depend on the call and is
//     true;
//   - deny-all: an enforced policy without rules denies every call.
//
// The coverage checks are conservative: they may miss a shadowed rule but
// do not report one that is not. It returns the [ErrorList] of [Compile]
// for documents that do not compile.
func Lint(docs []Document) ([]Finding, error) {
	s, err := Compile(docs, CompileOptions{})
	if err != nil {
		return nil, err
	}
	var out []Finding
	pos := map[string]*Document{}
	for i := range docs {
		pos[docs[i].Name] = &docs[i]
	}
	add := func(r RuleRef, kind, format string, args ...any) {
		field := ""
		if r.Index >= 0 {
			field = "rules[" + strconv.Itoa(r.Index) + "]"
		}
		out = append(out, Finding{Pos: pos[r.Policy].Position(field), Rule: r, Kind: kind, Msg: fmt.Sprintf(format, args...)})
	}
	for i := range s.docs {
		d := &s.docs[i]
		if len(d.Rules) == 0 && d.Mode != ModeDryRun {
			add(RuleRef{Policy: d.Name, Index: -1}, "deny-all", "the policy has no rules, so every call to %s is denied", d.Target)
		}
	}
	var all []*rule
	for _, tr := range s.targets {
		all = append(all, tr.all...)
	}
	for _, r := range all {
		if msg := r.contradiction(); msg != "" {
			add(r.ref, "unreachable", "%s", msg)
			continue
		}
		if r.when != nil && len(r.when.inputs) == 0 {
			if v, err := r.when.eval(&Input{}); err == nil {
				if v {
					add(r.ref, "always-true", "the condition does not depend on the call and is always true; remove it")
				} else {
					add(r.ref, "unreachable", "the condition does not depend on the call and is always false")
					continue
				}
			}
		}
		for _, o := range all {
			if o == r || o.dryRun || o.when != nil || o.action == ActionStepUp || !o.covers(r) {
				continue
			}
			if o.action > r.action {
				add(r.ref, "shadowed", "rule %s (%s) matches every call this rule matches and takes precedence, so this rule never decides", o.ref, o.action)
				break
			}
			// Of two rules that match the same calls, the later one is
			// redundant.
			if mutual := r.when == nil && r.covers(o); o.action == r.action && (!mutual || o.ord < r.ord) {
				add(r.ref, "redundant", "rule %s already matches every call this rule matches, with the same action", o.ref)
				break
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if a.Rule.Policy != b.Rule.Policy {
			if a.Rule.Policy < b.Rule.Policy {
				return -1
			}
			return 1
		}
		return a.Rule.Index - b.Rule.Index
	})
	return out, nil
}

// contradiction says why r can never match, or "".
func (r *rule) contradiction() string {
	if len(r.ids) > 0 && len(r.tds) > 0 {
		for _, p := range r.ids {
			if p.td == "" || slices.Contains(r.tds, p.td) {
				return ""
			}
		}
		return fmt.Sprintf("no SPIFFE ID of from.spiffe_ids is in from.trust_domains %s", listText(r.tds))
	}
	return ""
}

// covers reports, conservatively, whether every call r matches is matched
// by o too (o has no condition).
func (o *rule) covers(r *rule) bool {
	if o.target != r.target {
		if t := mustPattern(o.target); !t.matchPattern(r.target) {
			return false
		}
	}
	if len(o.ids) > 0 {
		if len(r.ids) == 0 {
			return false
		}
		for _, rp := range r.ids {
			if !slices.ContainsFunc(o.ids, func(op idPattern) bool { return op.matchPattern(rp.raw) }) {
				return false
			}
		}
	}
	if len(o.tds) > 0 {
		switch {
		case len(r.tds) > 0:
			if !subset(r.tds, o.tds) {
				return false
			}
		case len(r.ids) > 0:
			for _, rp := range r.ids {
				if rp.td == "" || !slices.Contains(o.tds, rp.td) {
					return false
				}
			}
		default:
			return false
		}
	}
	if len(o.clients) > 0 && (len(r.clients) == 0 || !subset(r.clients, o.clients)) {
		return false
	}
	if !subset(o.scopes, r.scopes) {
		return false
	}
	if o.methods != 0 && (r.methods == 0 || r.methods&^o.methods != 0) {
		return false
	}
	if len(o.hosts) > 0 {
		if len(r.hosts) == 0 {
			return false
		}
		for _, rh := range r.hosts {
			if !slices.ContainsFunc(o.hosts, func(oh hostPattern) bool { return oh == rh || !rh.suffix && rh.port == oh.port && oh.match(rh.host) }) {
				return false
			}
		}
	}
	if len(o.paths) > 0 {
		if len(r.paths) == 0 {
			return false
		}
		for _, rp := range r.paths {
			if !slices.ContainsFunc(o.paths, func(op pathPattern) bool { return op.coversPath(&rp) }) {
				return false
			}
		}
	}
	return true
}

// mustPattern compiles a target checked by Compile.
func mustPattern(s string) idPattern {
	p, _ := compileIDPattern(s)
	return p
}

// matchPattern reports whether every ID the pattern s matches is matched
// by p: s is an ID p matches, or the same pattern.
func (p *idPattern) matchPattern(s string) bool {
	if s == p.raw {
		return true
	}
	q, err := compileIDPattern(s)
	return err == nil && q.exact && p.match(s)
}

// coversPath reports whether every path r matches is matched by p.
func (p *pathPattern) coversPath(r *pathPattern) bool {
	if p.raw == r.raw {
		return true
	}
	switch {
	case r.exact:
		return p.match(r.raw)
	case p.exact:
		return false
	case p.prefix:
		if len(p.segs) > len(r.segs) || len(p.segs) == len(r.segs) && !r.prefix {
			return false
		}
	case r.prefix || len(p.segs) != len(r.segs):
		return false
	}
	for i, s := range p.segs {
		rs := r.segs[i]
		if !s.param && (rs.param || rs.lit != s.lit) {
			return false
		}
	}
	return true
}

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// WriteFindings writes findings one per line, then a summary.
func WriteFindings(w io.Writer, fs []Finding) error {
	for _, f := range fs {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	if len(fs) == 0 {
		_, err := fmt.Fprintln(w, "No problems found.")
		return err
	}
	_, err := fmt.Fprintf(w, "%d problem(s) found.\n", len(fs))
	return err
}
