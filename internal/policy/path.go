package policy

import (
	"fmt"
	"strings"
)

// pathPattern is a compiled entry of To.Paths: an exact path, a prefix
// (/api/*) or a template (/orders/{id}, /orders/{id}/*).
type pathPattern struct {
	raw string
	// exact is set for a path without templates or wildcard.
	exact bool
	// segs are the segments of a template or prefix; param marks a
	// "{name}" segment, which matches one non-empty segment.
	segs []pathSeg
	// prefix says the pattern ends in "/*": anything under it matches.
	prefix bool
}

type pathSeg struct {
	lit   string
	param bool
}

// compilePath checks and compiles a path pattern.
func compilePath(s string) (pathPattern, error) {
	if !strings.HasPrefix(s, "/") {
		return pathPattern{}, fmt.Errorf("%q does not start with /", s)
	}
	p := pathPattern{raw: s}
	parts := strings.Split(s[1:], "/")
	for i, part := range parts {
		last := i == len(parts)-1
		switch {
		case part == "*" && last:
			p.prefix = true
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}"):
			if name := part[1 : len(part)-1]; !isParamName(name) {
				return pathPattern{}, fmt.Errorf("%q: {%s} is not a parameter name (letters, digits and _)", s, name)
			}
			p.segs = append(p.segs, pathSeg{param: true})
		case strings.ContainsAny(part, "*{}"):
			return pathPattern{}, fmt.Errorf("%q: '*' may only be the whole last segment, and {name} a whole segment", s)
		case part == "" && !last:
			return pathPattern{}, fmt.Errorf("%q: empty path segment", s)
		case part == "." || part == "..":
			return pathPattern{}, fmt.Errorf("%q: dot segments are not allowed", s)
		default:
			for _, c := range []byte(part) {
				if c < 0x21 || c == 0x7f || c == '?' || c == '#' {
					return pathPattern{}, fmt.Errorf("%q: %q is not allowed in a path", s, c)
				}
			}
			p.segs = append(p.segs, pathSeg{lit: part})
		}
	}
	if !p.prefix && !strings.Contains(s, "{") {
		p.exact, p.segs = true, nil
	}
	return p, nil
}

// isParamName reports whether s is a template parameter name.
func isParamName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// match reports whether the canonical path matches. It allocates nothing.
func (p *pathPattern) match(path string) bool {
	if p.exact {
		return path == p.raw
	}
	if path == "" || path[0] != '/' {
		return false
	}
	rest, more := path[1:], true
	for _, s := range p.segs {
		if !more {
			return false
		}
		var seg string
		seg, rest, more = strings.Cut(rest, "/")
		if s.param {
			if seg == "" {
				return false
			}
		} else if seg != s.lit {
			return false
		}
	}
	if p.prefix {
		return more
	}
	return !more
}

// canonicalPath reports whether path is a clean absolute path: it starts
// with '/', has no empty segment (but may end in '/'), no "." or ".."
// segment and no control character, '?' or '#'. Calls to a protected
// target with another path are denied, so that a rule cannot be bypassed
// by a path the upstream reads differently.
func canonicalPath(path string) bool {
	if path == "" || path[0] != '/' {
		return false
	}
	start := 1
	for i := 1; i <= len(path); i++ {
		if i < len(path) {
			c := path[i]
			if c < 0x20 || c == 0x7f || c == '?' || c == '#' {
				return false
			}
			if c != '/' {
				continue
			}
		}
		seg := path[start:i]
		if seg == "." || seg == ".." || seg == "" && i < len(path) {
			return false
		}
		start = i + 1
	}
	return true
}
