package policy

import (
	"fmt"
	"io"
	"strconv"
)

// RuleCoverage is how the test cases reached one rule.
type RuleCoverage struct {
	Rule RuleRef  `json:"rule"`
	Pos  Position `json:"pos"`
	// Matched counts the cases the rule matched; Decided those whose
	// enforced decision it made.
	Matched int `json:"matched"`
	Decided int `json:"decided"`
}

// Coverage is which rules of a set the test cases reached, like opa test
// --coverage: a rule no case matched is untested.
type Coverage struct {
	Rules          []RuleCoverage `json:"rules"`
	Covered, Total int
	Uncovered      []RuleCoverage `json:"-"`
}

// CoverageOf explains every case with s (compiled from docs, which give
// the rules' positions) and counts, per rule of docs, the cases it
// matched and those it decided.
func CoverageOf(docs []Document, s *Set, cases []TestCase) *Coverage {
	matched, decided := map[string]int{}, map[string]int{}
	for _, c := range cases {
		in := c.Input
		for _, tr := range s.Explain(&in).Rules {
			if tr.Matched {
				matched[tr.Rule.String()]++
			}
			if tr.Decides {
				decided[tr.Rule.String()]++
			}
		}
	}
	cov := &Coverage{}
	for i := range docs {
		d := &docs[i]
		for j, r := range d.Rules {
			ref := RuleRef{Policy: d.Name, Index: j, Name: r.Name}
			rc := RuleCoverage{Rule: ref, Pos: d.Position("rules[" + strconv.Itoa(j) + "]"),
				Matched: matched[ref.String()], Decided: decided[ref.String()]}
			cov.Rules = append(cov.Rules, rc)
			cov.Total++
			if rc.Matched > 0 {
				cov.Covered++
			} else {
				cov.Uncovered = append(cov.Uncovered, rc)
			}
		}
	}
	return cov
}

// WriteText writes the coverage: the share of rules reached, then each
// rule no case reached, at its place in its file.
func (c *Coverage) WriteText(w io.Writer) error {
	pct := 100.0
	if c.Total > 0 {
		pct = 100 * float64(c.Covered) / float64(c.Total)
	}
	if _, err := fmt.Fprintf(w, "Coverage: %d/%d rules reached by a case (%.1f%%)\n", c.Covered, c.Total, pct); err != nil {
		return err
	}
	for _, r := range c.Uncovered {
		name := r.Rule.String()
		if r.Rule.Name != "" {
			name += " (" + r.Rule.Name + ")"
		}
		at := r.Pos.String()
		if at != "" {
			at += ": "
		}
		if _, err := fmt.Fprintf(w, "  %s%s: no case reached this rule\n", at, name); err != nil {
			return err
		}
	}
	return nil
}
