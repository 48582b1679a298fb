package dataplane

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kith-dev/kith/internal/agentproto"
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
	// Trust is the callers' trust states as the behavioural-trust engine
	// pushed them through the agent: the whole table (Full) in a full
	// message once the agent has one, the changed states after. A View
	// that has none gives every caller the documented starting state
	// (trust.Starting(""): score 700, medium), never zero.
	Trust *agentproto.TrustUpdate `json:"trust,omitempty"`
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
		len(m.Revocations) == 0 && len(m.Policies) == 0 && len(m.TokenKeys) == 0 && m.Issuer == "" && m.Trust == nil
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
