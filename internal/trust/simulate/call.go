package simulate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Call is one line of the replay input format: a call as the inbound side
// decided it. Unknown fields of a line are ignored.
type Call struct {
	Time           time.Time `json:"ts"`
	Caller         string    `json:"caller"`
	Credential     string    `json:"credential"`
	CredentialType string    `json:"credential_type"`
	Target         string    `json:"target"`
	Method         string    `json:"method"`
	Route          string    `json:"route"`
	Path           string    `json:"path"`
	Status         int       `json:"status"`
	ReqBytes       int64     `json:"req_bytes"`
	RespBytes      int64     `json:"resp_bytes"`
	Source         string    `json:"source"`
	Node           string    `json:"node"`
	LatencyMS      float64   `json:"latency_ms"`
	Decision       string    `json:"decision"`
}

// CallReader reads calls in the replay input format, one JSON object per
// line, without holding more than a line. It decodes what encoding/json
// decodes into a [Call] (a fuzz test holds it to that), several times
// faster, and repeats strings it has seen recently instead of allocating
// them again.
type CallReader struct {
	sc     *bufio.Scanner
	line   int
	intern map[string]string
}

// maxLine bounds the length of a line of calls.
const maxLine = 1 << 20

// NewCallReader returns a reader of the calls in r.
func NewCallReader(r io.Reader) *CallReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	return &CallReader{sc: sc, intern: make(map[string]string, 1024)}
}

// Next reads the next call into c, skipping blank lines. It returns
// io.EOF after the last one, an error wrapping [ErrFormat] with the line
// number for a malformed line or one without ts, and the reader's error.
func (cr *CallReader) Next(c *Call) error {
	for cr.sc.Scan() {
		cr.line++
		line := cr.sc.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		if err := cr.parse(line, c); err != nil {
			return fmt.Errorf("%w: calls line %d: %v", ErrFormat, cr.line, err)
		}
		return nil
	}
	if err := cr.sc.Err(); err != nil {
		return fmt.Errorf("read calls (line %d): %w", cr.line+1, err)
	}
	return io.EOF
}

// Line returns the number of the line Next read last.
func (cr *CallReader) Line() int { return cr.line }

// str returns b as a string, shared with earlier equal strings: callers,
// targets, routes, nodes repeat on most lines.
func (cr *CallReader) str(b []byte) string {
	if s, ok := cr.intern[string(b)]; ok {
		return s
	}
	if len(cr.intern) >= 1<<14 {
		clear(cr.intern)
	}
	s := string(b)
	cr.intern[s] = s
	return s
}

// errSyntax is a line that is not one JSON object.
var errSyntax = errors.New("not a JSON object")

// parse decodes one line into c. The value of a field given twice is the
// last one; null leaves a field as it was, as with encoding/json.
func (cr *CallReader) parse(b []byte, c *Call) error {
	*c = Call{}
	p := parser{b: b}
	p.ws()
	if !p.eat('{') {
		return errSyntax
	}
	p.ws()
	if !p.eat('}') {
		for {
			p.ws()
			key, ok := p.str()
			if !ok {
				return errSyntax
			}
			p.ws()
			if !p.eat(':') {
				return errSyntax
			}
			p.ws()
			if err := cr.field(&p, key, c); err != nil {
				return err
			}
			p.ws()
			if p.eat('}') {
				break
			}
			if !p.eat(',') {
				return errSyntax
			}
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return errSyntax
	}
	if c.Time.IsZero() {
		return errors.New("ts is required")
	}
	return nil
}

// fieldNames are the keys of a Call, in the order of fieldIndex.
var fieldNames = [...]string{"ts", "caller", "credential", "credential_type", "target", "method", "route",
	"path", "status", "req_bytes", "resp_bytes", "source", "node", "latency_ms", "decision"}

// fieldIndex returns the index in fieldNames of key, matched as
// encoding/json does: exactly, else without regard to case; -1 for an
// unknown key.
func fieldIndex(key []byte) int {
	for i, n := range fieldNames {
		if string(key) == n {
			return i
		}
	}
	for i, n := range fieldNames {
		if foldEqual(key, n) {
			return i
		}
	}
	return -1
}

// foldEqual reports whether key equals name under Unicode case folding.
func foldEqual(key []byte, name string) bool {
	return bytes.EqualFold(key, []byte(name))
}

// field decodes the value of key into c.
func (cr *CallReader) field(p *parser, key []byte, c *Call) error {
	i := fieldIndex(key)
	if i < 0 {
		if !p.skip(0) {
			return errSyntax
		}
		return nil
	}
	if p.null() {
		return nil
	}
	name := fieldNames[i]
	switch name {
	case "status", "req_bytes", "resp_bytes", "latency_ms":
		num, ok := p.number()
		if !ok {
			return fmt.Errorf("%s: want a number", name)
		}
		switch name {
		case "latency_ms":
			f, err := strconv.ParseFloat(string(num), 64)
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			c.LatencyMS = f
		case "status":
			n, err := strconv.ParseInt(string(num), 10, strconv.IntSize)
			if err != nil {
				return fmt.Errorf("%s: want an integer", name)
			}
			c.Status = int(n)
		default:
			n, err := strconv.ParseInt(string(num), 10, 64)
			if err != nil {
				return fmt.Errorf("%s: want an integer", name)
			}
			if name == "req_bytes" {
				c.ReqBytes = n
			} else {
				c.RespBytes = n
			}
		}
		return nil
	}
	start := p.i
	raw, ok := p.str()
	if !ok {
		return fmt.Errorf("%s: want a string", name)
	}
	switch name {
	case "ts":
		// Like time.Time's UnmarshalJSON, parse the text between the
		// quotes as it is, escapes and all.
		if err := c.Time.UnmarshalText(p.b[start+1 : p.i-1]); err != nil {
			return fmt.Errorf("ts: %v", err)
		}
	case "caller":
		c.Caller = cr.str(raw)
	case "credential":
		c.Credential = cr.str(raw)
	case "credential_type":
		c.CredentialType = cr.str(raw)
	case "target":
		c.Target = cr.str(raw)
	case "method":
		c.Method = cr.str(raw)
	case "route":
		c.Route = cr.str(raw)
	case "path":
		c.Path = string(raw) // too varied to share
	case "source":
		c.Source = cr.str(raw)
	case "node":
		c.Node = cr.str(raw)
	case "decision":
		c.Decision = cr.str(raw)
	}
	return nil
}

// parser is a cursor over one line of JSON.
type parser struct {
	b   []byte
	i   int
	tmp []byte
}

func (p *parser) ws() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// null consumes a null literal if one comes next.
func (p *parser) null() bool {
	if len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// str consumes a JSON string and returns its decoded bytes (valid until
// the next call).
func (p *parser) str() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c == '\\' || c >= utf8.RuneSelf:
			return p.slowStr(start - 1)
		case c < 0x20:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// slowStr decodes the string that starts at quote with encoding/json: it
// holds escapes or non-ASCII text.
func (p *parser) slowStr(quote int) ([]byte, bool) {
	p.i = quote
	if !p.skipString() {
		return nil, false
	}
	var s string
	if err := json.Unmarshal(p.b[quote:p.i], &s); err != nil {
		return nil, false
	}
	p.tmp = append(p.tmp[:0], s...)
	return p.tmp, true
}

// skipString consumes a JSON string, checking its escapes.
func (p *parser) skipString() bool {
	if !p.eat('"') {
		return false
	}
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if p.i >= len(p.b) {
				return false
			}
			e := p.b[p.i]
			p.i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(p.b)-p.i < 4 {
					return false
				}
				for _, h := range p.b[p.i : p.i+4] {
					if !strings.ContainsRune("0123456789abcdefABCDEF", rune(h)) {
						return false
					}
				}
				p.i += 4
			default:
				return false
			}
		}
	}
	return false
}

// number consumes a JSON number and returns its text.
func (p *parser) number() ([]byte, bool) {
	start := p.i
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return nil, false
	}
	if p.eat('.') {
		if p.digits() == 0 {
			return nil, false
		}
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if p.digits() == 0 {
			return nil, false
		}
	}
	return p.b[start:p.i], true
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// skip consumes any JSON value, checking its syntax.
func (p *parser) skip(depth int) bool {
	if depth > 10000 { // encoding/json's limit

		return false
	}
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.skipString()
	case c == '{' || c == '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		p.i++
		p.ws()
		if p.eat(close) {
			return true
		}
		for {
			p.ws()
			if c == '{' {
				if !p.skipString() {
					return false
				}
				p.ws()
				if !p.eat(':') {
					return false
				}
				p.ws()
			}
			if !p.skip(depth + 1) {
				return false
			}
			p.ws()
			if p.eat(close) {
				return true
			}
			if !p.eat(',') {
				return false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		_, ok := p.number()
		return ok
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
				p.i += len(lit)
				return true
			}
		}
		return false
	}
}
