package policy

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// idPattern is a compiled SPIFFE ID or SPIFFE ID pattern.
type idPattern struct {
	raw   string
	exact bool
	// td is the literal trust domain, or "" when the pattern's trust
	// domain is "*".
	td string
	// segs are the path segments: literal, with '*' wildcards, or a final
	// "**" that matches one or more segments.
	segs []string
}

// compileIDPattern checks and compiles a SPIFFE ID or pattern: '*'
// matches within one segment (or stands for any trust domain), and a final
// "/**" matches one or more further segments.
func compileIDPattern(s string) (idPattern, error) {
	if !strings.Contains(s, "*") {
		id, err := spiffeid.FromString(s)
		if err != nil {
			return idPattern{}, fmt.Errorf("%q is not a SPIFFE ID: %w", s, err)
		}
		if id.String() != s {
			return idPattern{}, fmt.Errorf("%q is not in canonical form (%s)", s, id)
		}
		return idPattern{raw: s, exact: true, td: id.TrustDomain().Name()}, nil
	}
	rest, ok := strings.CutPrefix(s, "spiffe://")
	if !ok {
		return idPattern{}, fmt.Errorf("%q does not start with spiffe://", s)
	}
	td, path, _ := strings.Cut(rest, "/")
	p := idPattern{raw: s}
	if td != "*" {
		if _, err := spiffeid.TrustDomainFromString(td); err != nil || strings.ContainsRune(td, '*') {
			return idPattern{}, fmt.Errorf("%q: trust domain %q must be a trust domain name or *", s, td)
		}
		p.td = td
	}
	if path == "" {
		return idPattern{}, fmt.Errorf("%q: a pattern needs a path, such as spiffe://%s/**", s, td)
	}
	p.segs = strings.Split(path, "/")
	for i, seg := range p.segs {
		switch {
		case seg == "**" && i == len(p.segs)-1:
		case strings.Contains(seg, "**"):
			return idPattern{}, fmt.Errorf("%q: ** may only be the whole last segment", s)
		case seg == "":
			return idPattern{}, fmt.Errorf("%q: empty path segment", s)
		default:
			for _, c := range []byte(seg) {
				if !isIDPathChar(c) && c != '*' {
					return idPattern{}, fmt.Errorf("%q: segment %q holds %q; SPIFFE IDs use letters, digits, '.', '-' and '_'", s, seg, c)
				}
			}
			if seg == "." || seg == ".." {
				return idPattern{}, fmt.Errorf("%q: dot segments are not allowed", s)
			}
		}
	}
	return p, nil
}

// isIDPathChar reports whether c may appear in a SPIFFE ID path segment.
func isIDPathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
}

// match reports whether the SPIFFE ID id matches. It allocates nothing.
func (p *idPattern) match(id string) bool {
	if p.exact {
		return id == p.raw
	}
	rest, ok := strings.CutPrefix(id, "spiffe://")
	if !ok {
		return false
	}
	td, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		td, path = rest[:i], rest[i+1:]
	}
	if p.td != "" && td != p.td || td == "" {
		return false
	}
	for _, ps := range p.segs {
		if ps == "**" {
			return path != ""
		}
		if path == "" {
			return false
		}
		seg, rest, more := strings.Cut(path, "/")
		if more && rest == "" {
			return false // a trailing slash is not a SPIFFE ID
		}
		if !globMatch(ps, seg) {
			return false
		}
		path = rest
	}
	return path == ""
}

// globMatch reports whether s matches pattern, in which '*' matches any
// run of characters. It allocates nothing.
func globMatch(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case px < len(pattern) && pattern[px] == s[sx]:
			px++
			sx++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// trustDomainOf returns the trust domain name of a SPIFFE ID, or "".
func trustDomainOf(id string) string {
	rest, ok := strings.CutPrefix(id, "spiffe://")
	if !ok {
		return ""
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i]
	}
	return rest
}

// hostPattern is a compiled entry of To.Hosts.
type hostPattern struct {
	// host is the host name, or the suffix with its leading dot for
	// "*.example.org".
	host   string
	suffix bool
	// port is the port the pattern names, or "" for any.
	port string
}

// compileHost checks and compiles a host pattern.
func compileHost(s string) (hostPattern, error) {
	h := hostPattern{}
	host := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.HasSuffix(s, "]") {
		host, h.port = s[:i], s[i+1:]
		if h.port == "" || strings.Trim(h.port, "0123456789") != "" || len(h.port) > 5 {
			return hostPattern{}, fmt.Errorf("%q: port %q is not a number", s, h.port)
		}
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		h.suffix, host = true, "."+rest
	}
	name := strings.TrimPrefix(host, ".")
	if name == "" || strings.ContainsAny(name, "*/ \t@?#") {
		return hostPattern{}, fmt.Errorf("%q is not a host name, a host:port or *.suffix", s)
	}
	h.host = strings.ToLower(host)
	return h, nil
}

// match reports whether the request host (with or without a port)
// matches, without case. It allocates nothing.
func (h *hostPattern) match(host string) bool {
	name, port := splitHostPort(host)
	if h.port != "" && port != h.port {
		return false
	}
	if h.suffix {
		return len(name) > len(h.host) && strings.EqualFold(name[len(name)-len(h.host):], h.host)
	}
	return strings.EqualFold(name, h.host)
}

// splitHostPort splits "host:port" ("[v6]:port"); port is "" when absent.
func splitHostPort(hostport string) (host, port string) {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 || strings.HasSuffix(hostport, "]") || strings.Count(hostport, ":") > 1 && !strings.HasPrefix(hostport, "[") {
		return hostport, ""
	}
	return hostport[:i], hostport[i+1:]
}

// HTTP methods as bits, so that a rule's methods are one mask.
const (
	methodOther uint16 = 1 << iota
	methodGET
	methodHEAD
	methodPOST
	methodPUT
	methodPATCH
	methodDELETE
	methodOPTIONS
	methodCONNECT
	methodTRACE
)

// methodBit interns an HTTP method; methods are case-sensitive, and any
// other method is methodOther.
func methodBit(m string) uint16 {
	switch m {
	case "GET":
		return methodGET
	case "HEAD":
		return methodHEAD
	case "POST":
		return methodPOST
	case "PUT":
		return methodPUT
	case "PATCH":
		return methodPATCH
	case "DELETE":
		return methodDELETE
	case "OPTIONS":
		return methodOPTIONS
	case "CONNECT":
		return methodCONNECT
	case "TRACE":
		return methodTRACE
	}
	return methodOther
}
