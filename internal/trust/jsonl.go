package trust

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// lineParser turns one line of replay input into a Call without
// allocating: the Call's strings point into the line, or into the
// parser's scratch buffer for strings with escapes, and are valid until
// the next parse (Engine.Observe keeps none of them). It reads three
// shapes of line:
//
//   - a call: {"ts":…, "caller":…, "credential":…, …} (see replay.go);
//   - a line of `kith audit export`: {"index":N, "event":{…}};
//   - a bare ledger event: {"time":…, "type":"call.decided", "actor":{…}, …}.
//
// An event of another type than call.decided is skipped. Unknown keys are
// ignored, whatever their value.
type lineParser struct {
	b       []byte
	i       int
	scratch []byte // unescaped strings (invalid UTF-8 may triple a string: room for 3×)
	call    Call
	evType  string // "type" of an event line
	actor   string // actor.kind of an event line
	action  string // action of an event line: "GET /route"
	client  string // client_id
	depth   int
}

// errSkip is returned by parse for a line that is not a call (an event
// of another type).
var errSkip = errors.New("not a call")

// maxDepth bounds the nesting of skipped values.
const maxDepth = 64

// parse parses line into p.call. It returns errSkip for a line that holds
// no call, and a *syntaxError for malformed JSON or a field of the wrong
// type.
func (p *lineParser) parse(line []byte) error {
	p.b, p.i, p.depth = line, 0, 0
	if cap(p.scratch) < len(line) {
		p.scratch = make([]byte, 0, len(line)*3)
	}
	p.scratch = p.scratch[:0]
	p.call = Call{}
	p.evType, p.actor, p.action, p.client = "", "", "", ""
	if err := p.object(topLevel); err != nil {
		return err
	}
	if p.ws(); p.i != len(p.b) {
		return p.errorf("data after the object")
	}
	if p.evType != "" {
		if p.evType != "call.decided" {
			return errSkip
		}
		method, route, _ := strings.Cut(p.action, " ")
		p.call.Method = method
		if p.call.Route == "" {
			p.call.Route = route
		}
		if p.call.Path == "" {
			p.call.Path = route
		}
	}
	if p.call.Caller == "" {
		p.call.Caller = p.client
	}
	if p.call.Caller == "" {
		p.call.Caller = p.call.Credential
	}
	if p.call.Time.IsZero() {
		return p.errorf("no time (ts)")
	}
	return nil
}

// Where an object is: which keys mean what.
const (
	topLevel  = iota // a call, an export line, or an event
	inActor          // an event's actor
	inDetails        // an event's details
)

// syntaxError is a malformed line, with the byte offset of the problem.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("column %d: %s", e.off+1, e.msg) }

func (p *lineParser) errorf(format string, args ...any) error {
	return &syntaxError{off: p.i, msg: fmt.Sprintf(format, args...)}
}

func (p *lineParser) ws() {
	b, i := p.b, p.i
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	p.i = i
}

// object parses an object whose keys mean what where says.
func (p *lineParser) object(where int) error {
	if p.ws(); p.i >= len(p.b) || p.b[p.i] != '{' {
		return p.errorf("want an object")
	}
	p.i++
	if p.ws(); p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.ws()
		key, err := p.str()
		if err != nil {
			return err
		}
		if p.ws(); p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.errorf("want ':' after a key")
		}
		p.i++
		p.ws()
		if err := p.field(where, key); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) {
			return p.errorf("unterminated object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.errorf("want ',' or '}'")
		}
	}
}

// field parses the value of key in an object at where.
func (p *lineParser) field(where int, key string) error {
	c := &p.call
	var err error
	switch where {
	case topLevel:
		switch key {
		case "ts", "time":
			c.Time, err = p.timeValue()
		case "caller":
			c.Caller, err = p.strValue()
		case "credential":
			c.Credential, err = p.strValue()
		case "credential_type":
			c.CredentialType, err = p.strValue()
		case "client_id":
			p.client, err = p.strValue()
		case "target":
			c.Target, err = p.strValue()
		case "method":
			c.Method, err = p.strValue()
		case "route":
			c.Route, err = p.strValue()
		case "path":
			c.Path, err = p.strValue()
		case "status":
			c.Status, err = p.intValue(999)
		case "req_bytes":
			c.ReqBytes, err = p.int64Value()
		case "resp_bytes":
			c.RespBytes, err = p.int64Value()
		case "source":
			c.Source, err = p.addrValue()
		case "node":
			c.Node, err = p.strValue()
		case "latency_ms":
			var ms float64
			ms, err = p.floatValue()
			c.Latency = time.Duration(ms * float64(time.Millisecond))
		case "decision":
			c.Decision, err = p.strValue()
		case "event":
			return p.object(topLevel)
		case "type":
			p.evType, err = p.strValue()
		case "actor":
			return p.object(inActor)
		case "action":
			p.action, err = p.strValue()
		case "details":
			return p.object(inDetails)
		default:
			return p.skip()
		}
	case inActor:
		switch key {
		case "id":
			c.Caller, err = p.strValue()
		case "kind":
			p.actor, err = p.strValue()
		case "credential_id":
			c.Credential, err = p.strValue()
		case "credential_type":
			c.CredentialType, err = p.strValue()
		case "remote_addr":
			c.Source, err = p.addrValue()
		default:
			return p.skip()
		}
	case inDetails:
		switch key {
		case "status":
			c.Status, err = p.intValue(999)
		case "bytes_in":
			c.ReqBytes, err = p.int64Value()
		case "bytes_out":
			c.RespBytes, err = p.int64Value()
		case "latency_us":
			var us int64
			us, err = p.int64Value()
			c.Latency = time.Duration(us) * time.Microsecond
		case "decision":
			c.Decision, err = p.strValue()
		case "path":
			c.Path, err = p.strValue()
		case "reported_by":
			c.Node, err = p.strValue()
		case "client_id":
			p.client, err = p.strValue()
		case "source":
			c.Source, err = p.addrValue()
		default:
			return p.skip()
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

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

// parseRFC3339 parses the common forms of RFC 3339 times
// (2026-12-08T10:00:00Z, with a fraction of up to nine digits, or an
// offset) without allocating; ok is false for anything else, which
// time.Parse then judges.
func parseRFC3339(s string) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(a, b int) int {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d, h, mi, sec := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if s[i] == '.' {
		i++
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i || j-i > 9 {
			return time.Time{}, false
		}
		nsec = num(i, j)
		for k := j - i; k < 9; k++ {
			nsec *= 10
		}
		i = j
	}
	var off int
	switch {
	case i == len(s)-1 && (s[i] == 'Z' || s[i] == 'z'):
	case i == len(s)-6 && (s[i] == '+' || s[i] == '-') && s[i+3] == ':':
		oh, om := num(i+1, i+3), num(i+4, i+6)
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return time.Time{}, false
		}
		off = oh*3600 + om*60
		if s[i] == '-' {
			off = -off
		}
	default:
		return time.Time{}, false
	}
	unix := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+sec) - int64(off)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// daysIn returns the number of days of month m of year y.
func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days from 1970-01-01 to y-m-d (proleptic
// Gregorian; Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
