package trust

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The values of the line parser: strings (zero-copy unless escaped),
// numbers, addresses, times, and skipping what it does not read.

// null consumes a JSON null and reports whether there was one.
func (p *lineParser) null() bool {
	if p.i+4 <= len(p.b) && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// strValue parses a string (or null, as "").
func (p *lineParser) strValue() (string, error) {
	if p.null() {
		return "", nil
	}
	return p.str()
}

// str parses a string. The result points into the line or the scratch
// buffer.
func (p *lineParser) str() (string, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", p.errorf("want a string")
	}
	p.i++
	start := p.i
	for {
		b, i := p.b, p.i // locals: the loop is the parser's hottest
		for i+8 <= len(b) && !special8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && strClass[b[i]] == 0 {
			i++
		}
		p.i = i
		if p.i >= len(p.b) {
			return "", p.errorf("unterminated string")
		}
		switch strClass[p.b[p.i]] {
		case 1: // '"'
			p.i++
			return unsafeString(p.b[start : p.i-1]), nil
		case 4: // above ASCII: valid UTF-8 is kept as it is
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				return p.escaped(start)
			}
			p.i += size
		default: // '\\' or a control character
			return p.escaped(start)
		}
	}
}

// special8 reports whether any of the eight bytes of w is not plain
// ASCII inside a string: '"', '\\', a control character or above ASCII.
// (It may report true for plain bytes beside one that is not.)
func special8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(x uint64) uint64 { return (x - ones) &^ x }
	return (zero(w^(ones*'"'))|zero(w^(ones*'\\'))|(w-ones*0x20)&^w|w)&highs != 0
}

// strClass classifies bytes inside a string: 0 plain ASCII, 1 '"', 2
// '\\', 3 control character, 4 above ASCII. A constant, so that it is
// read-only.
const strClass = "\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04\x04"

// escaped finishes a string with escapes or non-ASCII bytes from start,
// unescaping it into the scratch buffer (invalid UTF-8 becomes U+FFFD, as
// encoding/json does).
func (p *lineParser) escaped(start int) (string, error) {
	p.i = start
	s0 := len(p.scratch)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return unsafeString(p.scratch[s0:]), nil
		case c < 0x20:
			return "", p.errorf("control character in a string")
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", p.errorf("unterminated escape")
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				p.put(e)
			case 'b':
				p.put('\b')
			case 'f':
				p.put('\f')
			case 'n':
				p.put('\n')
			case 'r':
				p.put('\r')
			case 't':
				p.put('\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errorf("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						var ok2 bool
						if r2, ok2 = p.hex4(); !ok2 {
							return "", p.errorf("bad \\u escape")
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
						} else {
							p.i = save
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				p.putRune(r)
			default:
				return "", p.errorf("bad escape")
			}
		case c < utf8.RuneSelf:
			p.put(c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			p.putRune(r)
			p.i += size
		}
	}
	return "", p.errorf("unterminated string")
}

// put appends c to the scratch buffer. Should it grow, the strings made
// from it so far keep the old array: they stay valid.
func (p *lineParser) put(c byte) { p.scratch = append(p.scratch, c) }

func (p *lineParser) putRune(r rune) { p.scratch = utf8.AppendRune(p.scratch, r) }

// hex4 parses four hex digits.
func (p *lineParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// number returns the text of a JSON number, or of a string holding one
// (ledger event details are strings); "" for null.
func (p *lineParser) number() (string, error) {
	if p.null() {
		return "", nil
	}
	if p.i < len(p.b) && p.b[p.i] == '"' {
		return p.str()
	}
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return "", p.errorf("want a number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return "", p.errorf("want digits after '.'")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return "", p.errorf("want digits in the exponent")
		}
	}
	return unsafeString(p.b[start:p.i]), nil
}

// digits consumes decimal digits and returns how many.
func (p *lineParser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// floatValue parses a number.
func (p *lineParser) floatValue() (float64, error) {
	s, err := p.number()
	if err != nil || s == "" {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f != f || f > 1e15 {
		return 0, p.errorf("want a non-negative number")
	}
	return f, nil
}

// int64Value parses a non-negative integer (a number with a zero
// fraction is one).
func (p *lineParser) int64Value() (int64, error) {
	s, err := p.number()
	if err != nil || s == "" {
		return 0, err
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || i >= 18 {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f < 0 || f > 1<<62 || f != float64(int64(f)) {
				return 0, p.errorf("want a non-negative integer")
			}
			return int64(f), nil
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// intValue parses a non-negative integer up to limit.
func (p *lineParser) intValue(limit int64) (int, error) {
	n, err := p.int64Value()
	if err == nil && n > limit {
		return 0, p.errorf("want at most %d", limit)
	}
	return int(n), err
}

// addrValue parses an IP address, or an address and port; "" and null
// are the zero Addr.
func (p *lineParser) addrValue() (netip.Addr, error) {
	s, err := p.strValue()
	if err != nil || s == "" {
		return netip.Addr{}, err
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a, nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), nil
	}
	return netip.Addr{}, p.errorf("not an IP address")
}

// timeValue parses an RFC 3339 time.
func (p *lineParser) timeValue() (time.Time, error) {
	s, err := p.strValue()
	if err != nil || s == "" {
		return time.Time{}, err
	}
	if t, ok := parseRFC3339(s); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, p.errorf("not an RFC 3339 time")
	}
	return t, nil
}

// skip skips any value.
func (p *lineParser) skip() error {
	if p.ws(); p.i >= len(p.b) {
		return p.errorf("want a value")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		_, err := p.str()
		return err
	case c == '{' || c == '[':
		if p.depth++; p.depth > maxDepth {
			return p.errorf("nested too deep")
		}
		defer func() { p.depth-- }()
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.i++
		if p.ws(); p.i < len(p.b) && p.b[p.i] == closer {
			p.i++
			return nil
		}
		for {
			if c == '{' {
				p.ws()
				if _, err := p.str(); err != nil {
					return err
				}
				if p.ws(); p.i >= len(p.b) || p.b[p.i] != ':' {
					return p.errorf("want ':' after a key")
				}
				p.i++
			}
			if err := p.skip(); err != nil {
				return err
			}
			p.ws()
			if p.i >= len(p.b) {
				return p.errorf("unterminated value")
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == closer {
				p.i++
				return nil
			}
			return p.errorf("want ',' or %q", closer)
		}
	case c == 't' && p.lit("true"), c == 'f' && p.lit("false"), c == 'n' && p.lit("null"):
		return nil
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := p.number()
		return err
	}
	return p.errorf("want a value")
}

// lit consumes the literal s if it is next.
func (p *lineParser) lit(s string) bool {
	if p.i+len(s) <= len(p.b) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// unsafeString returns b as a string without copying: the line parser's
// strings live as long as its line, and the engine copies what it keeps.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
