package api

import "time"

// JoinTokenCreate is the body of POST /v1/agents/join-tokens.
type JoinTokenCreate struct {
	// TTL is how long the token may be used; zero means one hour. At most
	// a week.
	TTL Duration `json:"ttl,omitempty"`
}

// JoinToken is a new one-time join token. Token is the secret: this answer
// is the only place it ever appears.
type JoinToken struct {
	// ID is the token's public ID, as the audit ledger names it.
	ID string `json:"id"`
	// Token is "kith_jt_<id>_<secret>", for kith agent --join-token.
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Agent is a node agent as the admin API shows it.
type Agent struct {
	ID string `json:"id"`
	// SPIFFEID is spiffe://<td>/kith/agent/<id>.
	SPIFFEID string `json:"spiffe_id"`
	// Status is "active" or "evicted".
	Status string `json:"status"`
	// JoinTokenID names the join token the agent attested with.
	JoinTokenID string `json:"join_token_id"`
	// SerialNumber is the hex serial of the agent's latest X509-SVID and
	// SVIDExpiresAt its expiry.
	SerialNumber  string    `json:"serial_number"`
	SVIDExpiresAt time.Time `json:"svid_expires_at"`
	CreatedAt     time.Time `json:"created_at"`
	// RenewedAt is when the agent last renewed its SVID.
	RenewedAt time.Time `json:"renewed_at,omitzero"`
	// EvictedAt is when the agent was evicted.
	EvictedAt time.Time `json:"evicted_at,omitzero"`
}

// AgentList is one page of agents.
type AgentList struct {
	Agents []Agent `json:"agents"`
	// Next is the cursor for the following page ("after" query parameter);
	// empty on the last page.
	Next string `json:"next,omitempty"`
}

// AgentEviction answers POST /v1/agents/{id}/evict.
type AgentEviction struct {
	Agent Agent `json:"agent"`
	// RevokedSVIDs counts the unexpired workload X509-SVIDs issued through
	// the agent that were revoked with it.
	RevokedSVIDs int `json:"revoked_svids"`
}

// EntryRevocation answers POST /v1/entries/{id}/revoke and
// /v1/entries/{id}/quarantine: every credential of the entry's SPIFFE ID
// issued at or before RevokedAt is revoked until ExpiresAt, when all of
// them have expired.
type EntryRevocation struct {
	Entry     Entry     `json:"entry"`
	RevokedAt time.Time `json:"revoked_at"`
	ExpiresAt time.Time `json:"expires_at"`
}
