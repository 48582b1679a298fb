package audit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Outcome says how an audited action ended.
type Outcome string

// Outcomes of audited actions.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
	OutcomeDenied  Outcome = "denied"
)

// Actor is who performed an audited action.
type Actor struct {
	// Kind is "admin", "workload", "client", "agent" or "system".
	Kind string `json:"kind"`
	// ID is the SPIFFE ID, client ID or admin credential ID.
	ID string `json:"id"`
	// CredentialID names the credential used (a key ID, a certificate
	// serial, a token jti); never the credential itself.
	CredentialID string `json:"credential_id,omitempty"`
	// CredentialType is "admin_token", "x509_svid", "jwt_svid", ...
	CredentialType string `json:"credential_type,omitempty"`
	// Owner is the team or person accountable for the actor's identity.
	Owner string `json:"owner,omitempty"`
	// BusinessFunction is what the actor's workload does for the business.
	BusinessFunction string `json:"business_function,omitempty"`
	// RemoteAddr is the network address the action came from, if any.
	RemoteAddr string `json:"remote_addr,omitempty"`
}

// Policy names the policy decision behind an event.
type Policy struct {
	// Revision is the revision of the policy set that decided.
	Revision int64 `json:"revision"`
	// Rule is the name of the rule that matched, if any.
	Rule string `json:"rule,omitempty"`
}

// Trust is the caller's trust state when an event happened.
type Trust struct {
	// Score is the trust score, on the trust engine's integer scale:
	// entries hold no floating-point numbers, so their encoding is exact.
	Score int `json:"score"`
	// Signals names the signals behind the score, such as
	// "anomaly.rate" or "caep.credential-change".
	Signals []string `json:"signals,omitempty"`
}

// Event is one auditable fact: who did what to which target, how it
// ended, and why.
//
// Events are public to anyone who can read the log, and the log cannot
// forget them: an Event must never carry a secret, a private key, a
// password or a token. A token appears only as its jti
// (Actor.CredentialID), a certificate as its serial, a key as its key ID.
// Every field is a string, an integer or a list or map of them, so the
// canonical encoding ([Marshal]) is stable.
type Event struct {
	// Time is when the action happened; the ledger fills it if zero and
	// keeps it as UTC with microsecond precision.
	Time time.Time `json:"time"`
	// Type is a dotted name such as "entry.created" or "svid.x509.minted".
	Type string `json:"type"`
	// Actor is who acted.
	Actor Actor `json:"actor"`
	// Target is what was acted on: an entry ID, a SPIFFE ID, a trust domain.
	Target string `json:"target,omitempty"`
	// Action is the verb: "create", "update", "delete", "mint", "rotate", ...
	Action string `json:"action"`
	// Outcome says whether it succeeded.
	Outcome Outcome `json:"outcome"`
	// Policy is the policy decision behind the outcome, if one was made.
	Policy *Policy `json:"policy,omitempty"`
	// Trust is the actor's trust state, if it was evaluated.
	Trust *Trust `json:"trust,omitempty"`
	// Reason is a human-readable explanation, mostly for failures.
	Reason string `json:"reason,omitempty"`
	// RequestID ties the event to an API request.
	RequestID string `json:"request_id,omitempty"`
	// TraceID ties the event to a distributed trace.
	TraceID string `json:"trace_id,omitempty"`
	// Details carries further non-secret context (serial numbers, key IDs,
	// TTLs), as strings so the encoding stays canonical.
	Details map[string]string `json:"details,omitempty"`
}

// SystemActor returns the actor for actions the server takes on its own,
// such as CA key rotation.
func SystemActor() Actor { return Actor{Kind: "system", ID: "kith"} }

// Marshal returns the canonical JSON encoding of ev: struct fields in
// declaration order, empty optional fields left out, map keys sorted, no
// insignificant space, HTML-significant characters escaped, times in
// RFC 3339 UTC. It is the ledger entry of ev without its leading index.
// It returns an error only if ev cannot be encoded (a time outside years
// 0 to 9999).
//
// The encoding is the one encoding/json gives ev, byte for byte
// (FuzzMarshal checks it); it is written out by hand because at tens of
// thousands of events a second encoding/json's reflection was a fifth of
// the ledger's CPU.
func Marshal(ev Event) ([]byte, error) {
	b := make([]byte, 0, 1024)
	b = append(b, `{"time":"`...)
	b, err := ev.Time.AppendText(b)
	if err != nil {
		return nil, fmt.Errorf("audit: encode event: time: %w", err)
	}
	b = append(b, '"')
	b = appendField(b, "type", ev.Type, false)
	b = append(b, `,"actor":{"kind":`...)
	b = appendString(b, ev.Actor.Kind)
	b = appendField(b, "id", ev.Actor.ID, false)
	b = appendField(b, "credential_id", ev.Actor.CredentialID, true)
	b = appendField(b, "credential_type", ev.Actor.CredentialType, true)
	b = appendField(b, "owner", ev.Actor.Owner, true)
	b = appendField(b, "business_function", ev.Actor.BusinessFunction, true)
	b = appendField(b, "remote_addr", ev.Actor.RemoteAddr, true)
	b = append(b, '}')
	b = appendField(b, "target", ev.Target, true)
	b = appendField(b, "action", ev.Action, false)
	b = appendField(b, "outcome", string(ev.Outcome), false)
	if p := ev.Policy; p != nil {
		b = append(b, `,"policy":{"revision":`...)
		b = strconv.AppendInt(b, p.Revision, 10)
		b = appendField(b, "rule", p.Rule, true)
		b = append(b, '}')
	}
	if t := ev.Trust; t != nil {
		b = append(b, `,"trust":{"score":`...)
		b = strconv.AppendInt(b, int64(t.Score), 10)
		if len(t.Signals) > 0 {
			b = append(b, `,"signals":[`...)
			for i, s := range t.Signals {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, s)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = appendField(b, "reason", ev.Reason, true)
	b = appendField(b, "request_id", ev.RequestID, true)
	b = appendField(b, "trace_id", ev.TraceID, true)
	if len(ev.Details) > 0 {
		keys := make([]string, 0, len(ev.Details))
		for k := range ev.Details {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `,"details":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, ev.Details[k])
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendField appends ,"name":v to b, or nothing if v is empty and
// omitEmpty is set. name must need no escaping.
func appendField(b []byte, name, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

// plainJSON marks the bytes that stand for themselves in a JSON string
// as encoding/json writes one: printable ASCII but for '"', '\\' and the
// HTML-significant '<', '>' and '&'.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML-significant characters included).
func appendString(b []byte, s string) []byte {
	for i := range len(s) {
		if !plainJSON[s[i]] {
			// Rare in events: let encoding/json escape it (a Go string
			// always encodes).
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
