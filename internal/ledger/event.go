package ledger

import "time"

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
	// RemoteAddr is the network address the action came from, if any.
	RemoteAddr string `json:"remote_addr,omitempty"`
}

// Event is one auditable fact: who did what to which target, and how it
// ended. Events never carry secrets or tokens; a token appears as its jti.
type Event struct {
	// Time is when the action happened; the ledger fills it if zero.
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
	// Reason is a human-readable explanation, mostly for failures.
	Reason string `json:"reason,omitempty"`
	// RequestID ties the event to an API request.
	RequestID string `json:"request_id,omitempty"`
	// Details carries further non-secret context (serial numbers, key IDs,
	// TTLs), as strings so the encoding stays canonical.
	Details map[string]string `json:"details,omitempty"`
}

// SystemActor returns the actor for actions the server takes on its own,
// such as CA key rotation.
func SystemActor() Actor { return Actor{Kind: "system", ID: "kith"} }
