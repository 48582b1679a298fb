package callrecord

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Limits on the text fields of a [Record].
const (
	// MaxIDLen caps Caller, Target, ClientID, CredentialID and Node.
	MaxIDLen = 2048
	// MaxTextLen caps Method, Route, Path, Decision, Rule, Reason,
	// Direction and CredentialType.
	MaxTextLen = 1024
	// MaxEncoded caps the text fields of a record together, as JSON
	// escapes them (a control character or '<' takes six bytes): the
	// server's ledger event of a valid record then always fits a ledger
	// entry, so one record can never make a batch fail for good.
	MaxEncoded = 16 << 10
)

// ErrInvalid is wrapped by every error of [DecodeBatch], [DecodeRecords]
// and [Record.Validate].
var ErrInvalid = errors.New("callrecord: invalid telemetry batch")

// Record is what a proxy or the SDK middleware reports about one call:
// to its in-process Recorder, on the agent's data-plane socket, from the
// agent to the server, and (mapped by [Record.Event]) into the ledger. It
// never carries a credential, only the credential's ID.
type Record struct {
	Time      time.Time `json:"time"`
	Direction string    `json:"direction"` // "inbound", "outbound" or "tcp"
	// Caller is the caller's SPIFFE ID; empty when it was not verified.
	Caller         string `json:"caller,omitempty"`
	ClientID       string `json:"client_id,omitempty"`
	CredentialID   string `json:"credential_id,omitempty"`
	CredentialType string `json:"credential_type,omitempty"`
	// Target is the SPIFFE ID of the called service.
	Target string `json:"target"`
	Method string `json:"method,omitempty"`
	Route  string `json:"route,omitempty"` // the path template, when known
	Path   string `json:"path,omitempty"`
	Status int    `json:"status"`
	// BytesIn and BytesOut are the request and response body sizes.
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	// LatencyMicros is the call's latency through the proxy, in
	// microseconds; see [Record.Latency].
	LatencyMicros int64 `json:"latency_us"`
	// Decision is the decided action ("allow", "deny", ...) or "refused"
	// for a call refused before policy.
	Decision       string `json:"decision"`
	PolicyRevision int64  `json:"policy_revision,omitempty"`
	Rule           string `json:"rule,omitempty"`
	Reason         string `json:"reason,omitempty"`
	TrustScore     int    `json:"trust_score"`
	// Source is the caller's IP address as the inbound side saw it (the
	// TCP peer of the proxy or the middleware, without the port); empty
	// when unknown, as in the records of proxies older than the field.
	// The behavioural-trust engine learns the networks a caller uses
	// from it.
	Source string `json:"source,omitempty"`
	// Node is the SPIFFE ID of the agent that reported the record. The
	// server sets it from the agent that uploaded the batch (see
	// [Record.FromAgent]); what a proxy or an agent put here is replaced.
	Node string `json:"node,omitempty"`
}

// FromAgent returns r as reported by the agent whose SPIFFE ID is
// agent: its Node set to agent, whatever the record said.
func (r Record) FromAgent(agent string) Record {
	r.Node = agent
	return r
}

// Latency returns the call's latency, LatencyMicros as a duration.
func (r *Record) Latency() time.Duration { return time.Duration(r.LatencyMicros) * time.Microsecond }

// Validate checks r: a Target that is a SPIFFE ID, a Caller and a Node
// that are one or empty, a Source that is an IP address or empty, a known Direction, a Decision and a Time, text fields within
// their limits alone and together ([MaxEncoded]), no negative numbers. It
// returns an error wrapping [ErrInvalid]. The agent refuses a proxy's
// batch with an invalid record; the server refuses the record alone (see
// [Accept]), as an agent's batch merges several proxies' records.
func (r *Record) Validate() error {
	switch {
	case r.Target == "":
		return fmt.Errorf("%w: target is required", ErrInvalid)
	case r.Decision == "":
		return fmt.Errorf("%w: decision is required", ErrInvalid)
	case r.Time.IsZero():
		return fmt.Errorf("%w: time is required", ErrInvalid)
	case r.Status < 0 || r.Status > 999 || r.BytesIn < 0 || r.BytesOut < 0 || r.LatencyMicros < 0 || r.PolicyRevision < 0:
		return fmt.Errorf("%w: negative or out-of-range number", ErrInvalid)
	}
	switch r.Direction {
	case "inbound", "outbound", "tcp":
	default:
		return fmt.Errorf("%w: direction must be inbound, outbound or tcp", ErrInvalid)
	}
	if r.Source != "" {
		if a, err := netip.ParseAddr(r.Source); err != nil || a.Zone() != "" {
			return fmt.Errorf("%w: source is not an IP address", ErrInvalid)
		}
	}
	ids := [...]string{r.Caller, r.Target, r.ClientID, r.CredentialID, r.Node}
	texts := [...]string{r.Direction, r.CredentialType, r.Method, r.Route, r.Path, r.Decision, r.Rule, r.Reason}
	encoded := 0
	for _, f := range ids {
		if len(f) > MaxIDLen {
			return fmt.Errorf("%w: identifier over %d bytes", ErrInvalid, MaxIDLen)
		}
		encoded += jsonLen(f)
	}
	for _, f := range texts {
		if len(f) > MaxTextLen {
			return fmt.Errorf("%w: text field over %d bytes", ErrInvalid, MaxTextLen)
		}
		encoded += jsonLen(f)
	}
	if encoded > MaxEncoded {
		return fmt.Errorf("%w: text fields of %d bytes once escaped, limit %d", ErrInvalid, encoded, MaxEncoded)
	}
	if _, err := spiffeid.FromString(r.Target); err != nil {
		return fmt.Errorf("%w: target is not a SPIFFE ID", ErrInvalid)
	}
	if r.Caller != "" {
		if _, err := spiffeid.FromString(r.Caller); err != nil {
			return fmt.Errorf("%w: caller is not a SPIFFE ID", ErrInvalid)
		}
	}
	if r.Node != "" {
		if _, err := spiffeid.FromString(r.Node); err != nil {
			return fmt.Errorf("%w: node is not a SPIFFE ID", ErrInvalid)
		}
	}
	return nil
}

// Clipped returns r with its free-text fields and client and credential
// IDs clipped with [ClipText] to their limits, so that a record a proxy
// made from a call (one long or oddly encoded path) passes Validate
// rather than getting a whole batch refused. Caller and Target, SPIFFE
// IDs the proxy verified or was configured with, are left as they are.
func (r Record) Clipped() Record {
	text := func(s string) string { return ClipText(s, MaxTextLen) }
	id := func(s string) string { return ClipText(s, MaxIDLen) }
	r.ClientID, r.CredentialID = id(r.ClientID), id(r.CredentialID)
	r.CredentialType, r.Method, r.Route, r.Path = text(r.CredentialType), text(r.Method), text(r.Route), text(r.Path)
	r.Rule, r.Reason = text(r.Rule), text(r.Reason)
	return r
}

// jsonLen returns the length of s as encoding/json writes it inside a
// string: six bytes for a control character (or two for a common one),
// '<', '>', '&', U+2028, U+2029 or a byte of invalid UTF-8 (written as
// U+FFFD), two for '"' and '\\'.
func jsonLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// ClipText returns s, with invalid UTF-8 replaced by U+FFFD, cut to the
// longest prefix that is at most limit bytes once escaped as JSON: for
// proxies to fit a call's path or reason into a [Record] rather than have
// the record refused.
func ClipText(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	n := 0
	for i, r := range s {
		if n += jsonLen(s[i : i+utf8.RuneLen(r)]); n > limit {
			return s[:i]
		}
	}
	return s
}

// SourceOf returns the IP address of remoteAddr ("host:port", as
// http.Request.RemoteAddr and net.Conn.RemoteAddr give it, or a bare
// address) in the form of [Record.Source]: no port, no zone, an
// IPv4-mapped IPv6 address as IPv4. It returns "" for anything else,
// such as the address of a Unix socket.
func SourceOf(remoteAddr string) string {
	a, err := netip.ParseAddr(remoteAddr)
	if err != nil {
		ap, err := netip.ParseAddrPort(remoteAddr)
		if err != nil {
			return ""
		}
		a = ap.Addr()
	}
	return a.WithZone("").Unmap().String()
}
