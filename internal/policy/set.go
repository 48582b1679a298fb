package policy

import (
	"slices"
	"time"
)

// Set is a compiled policy set, ready to decide. It is immutable and safe
// for concurrent use; [Compile] makes one and an [Engine] holds the
// current one.
//
// Rules are indexed first by target — exact targets in a map, patterns by
// their trust domain — and then, within a target, by the caller field
// they select on: exact SPIFFE IDs, trust domains (for SPIFFE ID patterns
// and trust_domains), client IDs, or none. A decision looks only at the
// rules that can match the call's target and caller, so its cost does not
// grow with the policies of other services.
type Set struct {
	revision int64
	clock    func() time.Time
	docs     []Document // by name

	exact   map[string]*targetRules
	patByTD map[string][]*targetRules // pattern targets by trust domain
	patAny  []*targetRules            // pattern targets of any trust domain
	targets []*targetRules            // all, in target order
	rules   int
}

// targetRules are the rules of every policy with one target.
type targetRules struct {
	target    string
	pattern   idPattern
	isPattern bool
	// enforce and dryRun say whether an enforced or a dry-run policy
	// targets it.
	enforce, dryRun bool
	policies        []string

	byID     map[string][]*rule // rules naming exact caller SPIFFE IDs
	byTD     map[string][]*rule // rules selecting on a trust domain
	byClient map[string][]*rule // rules selecting on client IDs only
	any      []*rule            // rules with no caller selector
	all      []*rule            // every rule, in (policy, index) order
}

// newSet indexes compiled rules; docs are sorted by name and rules by
// (policy, index).
func newSet(docs []Document, rules []*rule, opts CompileOptions) *Set {
	s := &Set{revision: opts.Revision, clock: opts.Clock, docs: docs,
		exact: map[string]*targetRules{}, patByTD: map[string][]*targetRules{}, rules: len(rules)}
	byTarget := map[string]*targetRules{}
	for i := range docs {
		d := &docs[i]
		tr := byTarget[d.Target]
		if tr == nil {
			tr = &targetRules{target: d.Target, byID: map[string][]*rule{}, byTD: map[string][]*rule{}, byClient: map[string][]*rule{}}
			p, _ := compileIDPattern(d.Target) // checked by Compile
			if !p.exact {
				tr.pattern, tr.isPattern = p, true
			}
			byTarget[d.Target] = tr
			s.targets = append(s.targets, tr)
		}
		tr.policies = append(tr.policies, d.Name)
		if d.Mode == ModeDryRun {
			tr.dryRun = true
		} else {
			tr.enforce = true
		}
	}
	for _, r := range rules {
		byTarget[r.target].place(r)
	}
	slices.SortFunc(s.targets, func(a, b *targetRules) int {
		switch {
		case a.target < b.target:
			return -1
		case a.target > b.target:
			return 1
		}
		return 0
	})
	for _, tr := range s.targets {
		switch {
		case !tr.isPattern:
			s.exact[tr.target] = tr
		case tr.pattern.td == "":
			s.patAny = append(s.patAny, tr)
		default:
			s.patByTD[tr.pattern.td] = append(s.patByTD[tr.pattern.td], tr)
		}
	}
	return s
}

// place indexes r under the caller field it selects on.
func (tr *targetRules) place(r *rule) {
	tr.all = append(tr.all, r)
	switch {
	case len(r.ids) > 0:
		exact, anyTD := true, false
		for _, p := range r.ids {
			exact = exact && p.exact
			anyTD = anyTD || p.td == ""
		}
		switch {
		case exact:
			for _, p := range r.ids {
				addRule(tr.byID, p.raw, r)
			}
		case anyTD:
			tr.any = append(tr.any, r)
		default:
			for _, p := range r.ids {
				addRule(tr.byTD, p.td, r)
			}
		}
	case len(r.tds) > 0:
		for _, td := range r.tds {
			addRule(tr.byTD, td, r)
		}
	case len(r.clients) > 0:
		for _, c := range r.clients {
			addRule(tr.byClient, c, r)
		}
	default:
		tr.any = append(tr.any, r)
	}
}

// addRule appends r to m[key] unless it is there already.
func addRule(m map[string][]*rule, key string, r *rule) {
	if l := m[key]; len(l) > 0 && l[len(l)-1] == r {
		return
	}
	m[key] = append(m[key], r)
}

// Revision returns the revision the set was compiled for.
func (s *Set) Revision() int64 { return s.revision }

// Len returns the number of policies in the set.
func (s *Set) Len() int { return len(s.docs) }

// Documents returns the set's documents, sorted by name. The caller must
// not modify them.
func (s *Set) Documents() []Document { return s.docs }

// Document returns the policy called name, or false.
func (s *Set) Document(name string) (Document, bool) {
	i, ok := slices.BinarySearchFunc(s.docs, name, func(d Document, n string) int {
		switch {
		case d.Name < n:
			return -1
		case d.Name > n:
			return 1
		}
		return 0
	})
	if !ok {
		return Document{}, false
	}
	return s.docs[i], true
}

// Empty returns a set without policies: every target is unprotected.
func Empty() *Set {
	s, _ := Compile(nil, CompileOptions{})
	return s
}
