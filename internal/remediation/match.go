package remediation

import (
	"errors"
	"strings"
)

// maxPatternLen bounds an identity pattern.
const maxPatternLen = 2048

// pattern is a compiled identity pattern: an exact identity, or
// '/'-separated segments in which '*' matches within a segment and a
// final "**" matches one or more further segments.
type pattern struct {
	exact string
	segs  []string // nil for an exact pattern
	rest  bool     // the last segment was "**"
}

// compilePattern checks and compiles an identity pattern.
func compilePattern(s string) (pattern, error) {
	switch {
	case s == "":
		return pattern{}, errors.New("empty pattern")
	case len(s) > maxPatternLen:
		return pattern{}, errors.New("pattern too long")
	case !strings.Contains(s, "*"):
		return pattern{exact: s}, nil
	}
	segs := strings.Split(s, "/")
	p := pattern{}
	for i, seg := range segs {
		if strings.Contains(seg, "**") {
			if seg != "**" || i != len(segs)-1 || i == 0 {
				return pattern{}, errors.New(`"**" may only be a whole last segment, as in spiffe://example.org/**`)
			}
			p.rest = true
			break
		}
		p.segs = append(p.segs, seg)
	}
	return p, nil
}

// match reports whether id matches the pattern.
func (p *pattern) match(id string) bool {
	if p.segs == nil && !p.rest {
		return id == p.exact
	}
	for i, seg := range p.segs {
		part, rest, found := strings.Cut(id, "/")
		if !globMatch(seg, part) {
			return false
		}
		if !found {
			return i == len(p.segs)-1 && !p.rest
		}
		id = rest
	}
	// Segments remain in id.
	return p.rest && id != ""
}

// globMatch reports whether s matches pattern, in which '*' matches any
// run of characters.
func globMatch(pattern, s string) bool {
	star, next := -1, 0
	for pi, si := 0, 0; si < len(s) || pi < len(pattern); {
		if pi < len(pattern) {
			switch c := pattern[pi]; c {
			case '*':
				star, next = pi, si+1
				pi++
				continue
			default:
				if si < len(s) && s[si] == c {
					pi++
					si++
					continue
				}
			}
		}
		if star >= 0 && next <= len(s) {
			pi, si = star+1, next
			next++
			continue
		}
		return false
	}
	return true
}

// patterns is a compiled list of patterns; it matches an identity any
// of them matches.
type patterns []pattern

func (ps patterns) match(id string) bool {
	for i := range ps {
		if ps[i].match(id) {
			return true
		}
	}
	return false
}
