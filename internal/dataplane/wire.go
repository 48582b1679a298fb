package dataplane

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// FeedPath is the path of the feed on the agent's data-plane socket:
// GET FeedPath?after=<version> answers with newline-delimited JSON
// [FeedMessage] values (Content-Type [FeedContentType]).
const FeedPath = "/v1/feed"

// FeedContentType is the media type of the feed.
const FeedContentType = "application/x-ndjson"

// HeartbeatInterval is the longest the agent leaves a feed silent; a
// reader that hears nothing for twice as long reconnects.
const HeartbeatInterval = 10 * time.Second

// MaxFeedMessageSize caps one line of the feed.
const MaxFeedMessageSize = 32 << 20

// ErrFeedMessage is wrapped by every error of [DecodeFeedMessage].
var ErrFeedMessage = errors.New("dataplane: invalid feed message")

// FeedMessage is one line of the data-plane feed. The first message of a
// stream is Full (unless the reader's after= was the agent's current
// version, when it is a Heartbeat); later ones carry only what changed.
type FeedMessage struct {
	// Version identifies the agent's state after this message; a reader
	// sends it back as after= when it reconnects. Versions of a restarted
	// agent are larger than those it gave before.
	Version int64 `json:"version"`
	// Full says the message is the whole state: bundles not in Bundles
	// are dropped, and Revocations starts with a batch whose payload is
	// Full.
	Full bool `json:"full,omitempty"`
	// TrustDomain is the agent's own trust domain name; always in a Full
	// message.
	TrustDomain string `json:"trust_domain,omitempty"`
	// Bundles are SPIFFE bundles (JSON) by trust domain name, own and
	// federated, that were added or changed.
	Bundles map[string]json.RawMessage `json:"bundles,omitempty"`
	// BundlesRemoved are trust domains no longer federated.
	BundlesRemoved []string `json:"bundles_removed,omitempty"`
	// Revocations are the signed revocation batches (compact JWS, see
	// agentproto.RevocationBatch) exactly as the server sent them, in order: a
	// batch whose payload is Full replaces the set, others add to it. A
	// Full message sends every batch since the last full one.
	Revocations []string `json:"revocations,omitempty"`
	// Policies is the policy set, {"revision":N,"documents":[...]}, when
	// it changed.
	Policies json.RawMessage `json:"policies,omitempty"`
	// TokenKeys is the token service's public JWKS (as /oauth2/jwks
	// serves it) when it changed, with Issuer, its issuer URL.
	TokenKeys json.RawMessage `json:"token_keys,omitempty"`
	Issuer    string          `json:"issuer,omitempty"`
	// Heartbeat marks a message that only keeps the stream alive.
	Heartbeat bool `json:"heartbeat,omitempty"`
}

// PolicySet is the decoded form of FeedMessage.Policies.
type PolicySet struct {
	Revision  int64           `json:"revision"`
	Documents json.RawMessage `json:"documents"`
}

// IsEmpty reports whether m carries no change.
func (m *FeedMessage) IsEmpty() bool {
	return !m.Full && m.TrustDomain == "" && len(m.Bundles) == 0 && len(m.BundlesRemoved) == 0 &&
		len(m.Revocations) == 0 && len(m.Policies) == 0 && len(m.TokenKeys) == 0 && m.Issuer == ""
}

// DecodeFeedMessage decodes one line of the feed. It checks the shape
// only (size, JSON, a non-negative version); [View.Apply] checks the
// contents. It returns an error wrapping [ErrFeedMessage] otherwise.
func DecodeFeedMessage(line []byte) (*FeedMessage, error) {
	if len(line) > MaxFeedMessageSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFeedMessage, len(line), MaxFeedMessageSize)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	var m FeedMessage
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFeedMessage, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrFeedMessage)
	}
	if m.Version < 0 {
		return nil, fmt.Errorf("%w: negative version", ErrFeedMessage)
	}
	return &m, nil
}

// TelemetryPath is the path on the agent's data-plane socket that takes
// call records from proxies: POST TelemetryPath with a JSON array of
// [CallRecord] (at most [MaxTelemetryBatch] of them, at most
// [MaxTelemetryBody] bytes) is answered 202, or 400 (malformed), 413 (too
// large) or 503 (the agent's buffer is shut).
const TelemetryPath = "/v1/telemetry"

// TelemetryBatchHeader names the agent's batch of call records it sends
// the server: "RUN FIRST END", where RUN identifies the agent process (a
// random token) and the records carry its sequence numbers FIRST to
// END-1. A batch sent again after a failure keeps the numbers, so the
// server can leave out the records it has already recorded.
const TelemetryBatchHeader = "Kith-Telemetry-Batch"

// TelemetryBatch is the value of [TelemetryBatchHeader].
type TelemetryBatch struct {
	Run        string // at most 64 bytes, no space
	First, End uint64 // the records' sequence numbers: First to End-1
}

// String returns b in the header's form.
func (b TelemetryBatch) String() string { return fmt.Sprintf("%s %d %d", b.Run, b.First, b.End) }

// ParseTelemetryBatch parses the header of a batch of n records; it
// reports false for a malformed header or one that does not number n
// records.
func ParseTelemetryBatch(h string, n int) (TelemetryBatch, bool) {
	f := strings.Fields(h)
	if len(f) != 3 || len(f[0]) > 64 {
		return TelemetryBatch{}, false
	}
	first, err1 := strconv.ParseUint(f[1], 10, 64)
	end, err2 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil || end < first || end-first != uint64(n) {
		return TelemetryBatch{}, false
	}
	return TelemetryBatch{Run: f[0], First: first, End: end}, true
}

// MaxTelemetryBatch is the most records in one telemetry batch.
const MaxTelemetryBatch = 1024

// MaxTelemetryBody caps the body of one telemetry batch.
const MaxTelemetryBody = 2 << 20

// Limits on the text fields of a [CallRecord].
const (
	// MaxRecordIDLen caps Caller, Target, ClientID and CredentialID.
	MaxRecordIDLen = 2048
	// MaxRecordTextLen caps Method, Route, Path, Decision, Rule, Reason,
	// Direction and CredentialType.
	MaxRecordTextLen = 1024
	// MaxRecordEncoded caps the text fields of a record together, as JSON
	// escapes them (a control character or '<' takes six bytes): the
	// server's ledger event of a valid record then always fits a ledger
	// entry, so one record can never make a batch fail for good.
	MaxRecordEncoded = 16 << 10
)

// ErrTelemetryBatch is wrapped by every error of [DecodeTelemetryBatch]
// and [CallRecord.Validate].
var ErrTelemetryBatch = errors.New("dataplane: invalid telemetry batch")

// CallRecord is what a proxy reports about one call, on the data-plane
// socket and from the agent to the server. It never carries a credential,
// only the credential's ID.
type CallRecord struct {
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
	// LatencyMicros is the call's latency through the proxy.
	LatencyMicros int64 `json:"latency_us"`
	// Decision is the decided action ("allow", "deny", ...) or "refused"
	// for a call refused before policy.
	Decision       string `json:"decision"`
	PolicyRevision int64  `json:"policy_revision,omitempty"`
	Rule           string `json:"rule,omitempty"`
	Reason         string `json:"reason,omitempty"`
	TrustScore     int    `json:"trust_score"`
}

// Validate checks r: a Target that is a SPIFFE ID, a Caller that is one
// or empty, a known Direction, a Decision and a Time, text fields within
// their limits alone and together ([MaxRecordEncoded]), no negative
// numbers. It returns an error wrapping [ErrTelemetryBatch]. The agent
// refuses a proxy's batch with an invalid record; the server refuses the
// record alone, as an agent's batch merges several proxies' records.
func (r *CallRecord) Validate() error {
	switch {
	case r.Target == "":
		return fmt.Errorf("%w: target is required", ErrTelemetryBatch)
	case r.Decision == "":
		return fmt.Errorf("%w: decision is required", ErrTelemetryBatch)
	case r.Time.IsZero():
		return fmt.Errorf("%w: time is required", ErrTelemetryBatch)
	case r.Status < 0 || r.Status > 999 || r.BytesIn < 0 || r.BytesOut < 0 || r.LatencyMicros < 0 || r.PolicyRevision < 0:
		return fmt.Errorf("%w: negative or out-of-range number", ErrTelemetryBatch)
	}
	switch r.Direction {
	case "inbound", "outbound", "tcp":
	default:
		return fmt.Errorf("%w: direction must be inbound, outbound or tcp", ErrTelemetryBatch)
	}
	ids := [...]string{r.Caller, r.Target, r.ClientID, r.CredentialID}
	texts := [...]string{r.Direction, r.CredentialType, r.Method, r.Route, r.Path, r.Decision, r.Rule, r.Reason}
	encoded := 0
	for _, f := range ids {
		if len(f) > MaxRecordIDLen {
			return fmt.Errorf("%w: identifier over %d bytes", ErrTelemetryBatch, MaxRecordIDLen)
		}
		encoded += jsonLen(f)
	}
	for _, f := range texts {
		if len(f) > MaxRecordTextLen {
			return fmt.Errorf("%w: text field over %d bytes", ErrTelemetryBatch, MaxRecordTextLen)
		}
		encoded += jsonLen(f)
	}
	if encoded > MaxRecordEncoded {
		return fmt.Errorf("%w: text fields of %d bytes once escaped, limit %d", ErrTelemetryBatch, encoded, MaxRecordEncoded)
	}
	if _, err := spiffeid.FromString(r.Target); err != nil {
		return fmt.Errorf("%w: target is not a SPIFFE ID", ErrTelemetryBatch)
	}
	if r.Caller != "" {
		if _, err := spiffeid.FromString(r.Caller); err != nil {
			return fmt.Errorf("%w: caller is not a SPIFFE ID", ErrTelemetryBatch)
		}
	}
	return nil
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
// proxies to fit a call's path or reason into a [CallRecord] rather than
// have the record refused.
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

// DecodeTelemetryBatch decodes and validates a telemetry batch: a
// non-empty JSON array of at most [MaxTelemetryBatch] valid records and
// nothing after it. It returns an error wrapping [ErrTelemetryBatch].
func DecodeTelemetryBatch(body []byte) ([]CallRecord, error) {
	batch, err := DecodeCallRecords(body)
	if err != nil {
		return nil, err
	}
	for i := range batch {
		if err := batch[i].Validate(); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
	return batch, nil
}

// DecodeCallRecords is DecodeTelemetryBatch without validating the
// records, for a receiver that checks each record on its own.
func DecodeCallRecords(body []byte) ([]CallRecord, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var batch []CallRecord
	if err := dec.Decode(&batch); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTelemetryBatch, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrTelemetryBatch)
	}
	switch {
	case len(batch) == 0:
		return nil, fmt.Errorf("%w: %w", ErrTelemetryBatch, errRecordEmpty)
	case len(batch) > MaxTelemetryBatch:
		return nil, fmt.Errorf("%w: %d records, limit %d", ErrTelemetryBatch, len(batch), MaxTelemetryBatch)
	}
	return batch, nil
}
