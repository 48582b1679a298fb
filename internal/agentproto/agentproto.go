// Package agentproto is the protocol between the Kith server and its node
// agents: the routes, headers, request and response bodies, the sync
// stream's messages and how to read them, and the signed revocation batch
// with its verification. Both sides import it: the server's hub (package
// synchub) writes what the agent (package agent) reads.
//
// It must stay light: only the standard library, go-spiffe and package
// signeddoc. It must not import the store, the ledger, the CA, the server
// or the agent, so that agents, proxies and the SDK link no database; a
// test (deps_test.go) pins it.
//
// # Protocol
//
// Everything runs over the server's HTTPS listener, under [PathPrefix].
// Every request carries [ProtocolVersion] in the [ProtocolHeader] header.
//
//   - POST [AttestPath] (no client certificate): an [AttestRequest]
//     with a one-time join token and a CSR; the answer, an
//     [AttestResponse], carries the agent's X509-SVID
//     (spiffe://<td>/kith/agent/<id>) and the trust bundle. From then on
//     the agent authenticates with that SVID over mutual TLS only.
//   - POST [RenewPath]: a [RenewRequest] renews the agent's own SVID.
//   - POST [X509SVIDsPath]: an [X509SVIDRequest] asks for workload
//     SVIDs for entries this agent may serve (parent is this agent, or
//     empty); the private keys stay on the agent.
//   - POST [JWTSVIDPath]: a [JWTSVIDRequest] asks for a JWT-SVID.
//   - GET [SyncPath]?revision=R&revocations=V: a long-lived response
//     of newline-delimited JSON [Message] values ([SyncContentType]; read
//     them with a [MessageReader]). The first message brings the agent
//     from (R, V) to the server's current state: only what changed after
//     R and V, or the full state (Full) when R is 0 or too old to resume
//     from. Later messages carry each change as it happens; a Heartbeat
//     message at least every [HeartbeatInterval] lets both sides detect a
//     dead connection. With the behavioural-trust engine, the first
//     message of every stream carries the whole table of callers' trust
//     states ([TrustUpdate], Full), later ones the states that changed,
//     pushed as soon as the engine changes them.
//   - POST [TelemetryPath]: the call records of the proxies on the
//     agent's node, for the server's audit ledger. The body is a JSON
//     array of call records (package callrecord; at most 1024, within
//     the server's 4 MiB body limit), the answer 200 with a
//     [TelemetryResponse]. A body that is not such an array is refused
//     whole with 400 (413 when too large); an invalid record (or one
//     timed more than five minutes ahead of the server's clock) is left
//     out and counted as Refused, the others recorded. The server records
//     a batch in one ledger commit: a 5xx answer means nothing was
//     recorded, and the agent sends the batch again. The agent numbers
//     its records and names each batch in the Kith-Telemetry-Batch header,
//     "RUN FIRST END": RUN is a random token of the agent process, and the
//     records carry its sequence numbers FIRST to END-1. A batch sent
//     again keeps its numbers, so that the server can leave out the
//     records it recorded already (counted as Duplicates) when the answer
//     to the first send was lost; a batch without the header is recorded
//     as sent. An agent drops a batch the server refuses with 4xx (other
//     than 408 and 429) and retries others.
//
// Errors are application/problem+json bodies with 4xx/5xx statuses. An
// evicted agent's requests are refused with 403, and its open stream ends
// with a Message whose Evicted is true.
package agentproto

import (
	"encoding/json"
	"time"
)

// ProtocolVersion is sent by agents in the [ProtocolHeader] header; the
// server refuses versions it does not speak with 400.
const ProtocolVersion = "1"

// ProtocolHeader is the request header that carries [ProtocolVersion].
const ProtocolHeader = "Kith-Agent-Protocol"

// HeartbeatInterval is the longest a sync stream stays silent.
const HeartbeatInterval = 15 * time.Second

// PathPrefix is the path under which the server serves the agent API.
const PathPrefix = "/agent/v1"

// The routes of the agent API; see the package documentation.
const (
	// AttestPath takes an [AttestRequest] (POST).
	AttestPath = PathPrefix + "/attest"
	// RenewPath takes a [RenewRequest] (POST).
	RenewPath = PathPrefix + "/renew"
	// X509SVIDsPath takes an [X509SVIDRequest] (POST).
	X509SVIDsPath = PathPrefix + "/svids/x509"
	// JWTSVIDPath takes a [JWTSVIDRequest] (POST).
	JWTSVIDPath = PathPrefix + "/svids/jwt"
	// SyncPath is the sync stream of [Message] values (GET).
	SyncPath = PathPrefix + "/sync"
	// TelemetryPath takes a batch of call records (POST); the answer is a
	// [TelemetryResponse].
	TelemetryPath = PathPrefix + "/telemetry"
)

// SyncContentType is the media type of the sync stream.
const SyncContentType = "application/x-ndjson"

// TelemetryResponse answers a batch of call records posted to
// [TelemetryPath].
type TelemetryResponse struct {
	// Recorded is the number of records written to the ledger.
	Recorded int `json:"recorded"`
	// Refused is the number of invalid records left out.
	Refused int `json:"refused,omitempty"`
	// Duplicates is the number of records left out because the server
	// recorded them from an earlier send of the batch.
	Duplicates int `json:"duplicates,omitempty"`
}

// AttestRequest is the body of POST /agent/v1/attest.
type AttestRequest struct {
	// JoinToken is the one-time token from `kith agent token create`.
	JoinToken string `json:"join_token"`
	// CSR is the DER PKCS#10 request for the agent's key.
	CSR []byte `json:"csr"`
}

// AttestResponse answers a successful attestation.
type AttestResponse struct {
	// AgentID is the agent's ID; its SPIFFE ID is
	// spiffe://<td>/kith/agent/<AgentID>.
	AgentID  string `json:"agent_id"`
	SPIFFEID string `json:"spiffe_id"`
	// SVID is the agent's certificate chain in DER, leaf first.
	SVID [][]byte `json:"svid"`
	// Bundle is the trust domain's bundle in SPIFFE bundle format.
	Bundle json.RawMessage `json:"bundle"`
}

// RenewRequest is the body of POST /agent/v1/renew.
type RenewRequest struct {
	CSR []byte `json:"csr"`
}

// RenewResponse answers a renewal with the agent's new chain.
type RenewResponse struct {
	SVID [][]byte `json:"svid"`
}

// X509SVIDRequest asks for workload X509-SVIDs, several at once.
type X509SVIDRequest struct {
	Requests []X509SVIDRequestItem `json:"requests"`
}

// X509SVIDRequestItem asks for one entry's SVID for one key.
type X509SVIDRequestItem struct {
	EntryID string `json:"entry_id"`
	CSR     []byte `json:"csr"`
}

// X509SVIDResponse answers an X509SVIDRequest: one SVID per granted item
// and one error per refused item (an unknown, foreign or inactive entry).
type X509SVIDResponse struct {
	SVIDs  []X509SVID  `json:"svids"`
	Errors []ItemError `json:"errors,omitempty"`
}

// X509SVID is one signed workload SVID.
type X509SVID struct {
	EntryID  string `json:"entry_id"`
	SPIFFEID string `json:"spiffe_id"`
	// Chain is the certificate chain in DER, leaf first.
	Chain     [][]byte  `json:"chain"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ItemError says why one item of a batch was refused.
type ItemError struct {
	EntryID string `json:"entry_id"`
	Message string `json:"message"`
}

// JWTSVIDRequest asks for a JWT-SVID for an entry this agent serves.
type JWTSVIDRequest struct {
	EntryID  string   `json:"entry_id"`
	Audience []string `json:"audience"`
}

// JWTSVIDResponse is a signed JWT-SVID.
type JWTSVIDResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Message is one line of the sync stream. Fields that did not change are
// omitted.
type Message struct {
	// Revision is the registry revision the agent has after applying this
	// message; it sends it back as ?revision= when it reconnects.
	Revision int64 `json:"revision"`
	// Full says Entries is the agent's whole set: drop every entry not in
	// it.
	Full bool `json:"full,omitempty"`
	// Entries are entries this agent serves that were created or changed.
	Entries []Entry `json:"entries,omitempty"`
	// Deleted are IDs of entries the agent must forget (deleted, or moved
	// to another parent).
	Deleted []string `json:"deleted,omitempty"`
	// Bundle is the trust domain's own bundle (SPIFFE format) when it
	// changed; always present in the first message.
	Bundle json.RawMessage `json:"bundle,omitempty"`
	// Federated are foreign bundles that were added or changed, by trust
	// domain name; all of them in the first message.
	Federated map[string]json.RawMessage `json:"federated,omitempty"`
	// FederatedRemoved are trust domains no longer federated.
	FederatedRemoved []string `json:"federated_removed,omitempty"`
	// Revocations is a JWS (compact form, ES256, signed with the trust
	// domain's active JWT authority, header typ "kith-revocations+jwt")
	// whose payload is a [RevocationBatch]: the revocation set entries
	// written since the revision the agent gave. Agents and the verifiers
	// they pass it to check the signature against the bundle.
	Revocations string `json:"revocations,omitempty"`
	// Policies is the whole policy set with its revision: in the first
	// message, and whenever a new revision is written.
	Policies *PolicySet `json:"policies,omitempty"`
	// TokenKeys is the token service's public JWKS, exactly as
	// /oauth2/jwks serves it, when it changed; present in the first
	// message once the token service runs. Proxies verify access tokens
	// with it and need no call to the server.
	TokenKeys json.RawMessage `json:"token_keys,omitempty"`
	// TokenIssuer is the token service's issuer URL; sent with TokenKeys.
	TokenIssuer string `json:"token_issuer,omitempty"`
	// Trust is the behavioural-trust engine's trust states of callers:
	// the whole table (Full) in the first message of a stream, then the
	// states that changed. Absent from a server without the engine.
	Trust *TrustUpdate `json:"trust,omitempty"`
	// Evicted says the agent was evicted: it must drop its identity, its
	// workloads' SVIDs and stop.
	Evicted bool `json:"evicted,omitempty"`
	// Heartbeat marks a message that only keeps the stream alive.
	Heartbeat bool `json:"heartbeat,omitempty"`
}

// PolicySet is a revision of the policy set, for proxies to compile and
// swap in (see package policy).
type PolicySet struct {
	// Revision is the policy set's revision; a proxy ignores one older
	// than the revision it holds.
	Revision int64 `json:"revision"`
	// Documents is the JSON array of policy documents.
	Documents json.RawMessage `json:"documents"`
}

// TrustUpdate carries callers' trust states (package trust's Table in
// wire form) from the server to the agents, and from an agent to its
// proxies (dataplane.FeedMessage). A caller's trust is its score; the
// level follows from the score alone (below 200 untrusted, below 500
// low, below 800 medium, high above).
type TrustUpdate struct {
	// Full says Entries is the whole table: drop every state not in it.
	Full bool `json:"full,omitempty"`
	// Default is the score of callers not listed; zero means the
	// documented starting state of a caller without history (700,
	// medium), never a score of zero.
	Default int `json:"default,omitempty"`
	// Entries are the callers' states, new or changed.
	Entries []TrustEntry `json:"entries"`
}

// TrustEntry is one caller's trust state.
type TrustEntry struct {
	// ID is the caller's SPIFFE ID, or its OAuth client ID without one.
	ID string `json:"id"`
	// Score is its trust score, 0 to 1000.
	Score int `json:"s"`
	// Signals name what weighs on it ("rate.spike", "context.leak").
	Signals []string `json:"sig,omitempty"`
}

// Entry is a registry entry as an agent needs it.
type Entry struct {
	ID        string   `json:"id"`
	SPIFFEID  string   `json:"spiffe_id"`
	ParentID  string   `json:"parent_id,omitempty"`
	Selectors []string `json:"selectors"`
	// X509SVIDTTL and JWTSVIDTTL are lifetimes in seconds; zero means the
	// server default.
	X509SVIDTTL int64 `json:"x509_svid_ttl,omitempty"`
	JWTSVIDTTL  int64 `json:"jwt_svid_ttl,omitempty"`
	// Status is "active", "disabled" or "quarantined"; agents serve only
	// active entries.
	Status   string `json:"status"`
	Revision int64  `json:"revision"`
}
