package trust

import (
	"errors"
	"fmt"
	"strings"
	"time"
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
