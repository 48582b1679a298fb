package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that travels as a Go duration string such as
// "1h30m" ("0s" when zero).
type Duration time.Duration

// MarshalJSON encodes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON decodes a duration string, or a number of seconds. It
// returns an error for anything else or a negative duration.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs int64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("duration must be a string such as \"1h\": %w", err)
		}
		s = fmt.Sprintf("%ds", secs)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q: %w", s, err)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// Problem is the error body of every failed admin API call (RFC 9457,
// application/problem+json).
type Problem struct {
	// Type is a URI naming the kind of problem; "about:blank" by default.
	Type string `json:"type,omitempty"`
	// Title is a short summary of the kind of problem.
	Title string `json:"title"`
	// Status repeats the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence, in text safe to show a user.
	Detail string `json:"detail,omitempty"`
	// Field names the request field at fault, for validation errors.
	Field string `json:"field,omitempty"`
}

// Error makes a Problem usable as a Go error on the client side.
func (p *Problem) Error() string {
	msg := fmt.Sprintf("%d %s", p.Status, p.Title)
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	return msg
}

// Entry is a workload registry entry as the admin API shows it.
type Entry struct {
	// ID is assigned by the server; ignored on create.
	ID string `json:"id,omitempty"`
	// SPIFFEID is the identity given to matching workloads.
	SPIFFEID string `json:"spiffe_id"`
	// ParentID is the SPIFFE ID of the agent (node) that may serve the
	// entry. Empty means no agent serves it (its SVIDs are minted through
	// the admin API only, or its OAuth clients use it), unless AnyAgent.
	ParentID string `json:"parent_id,omitempty"`
	// AnyAgent lets every agent of the trust domain serve the entry, an
	// explicit opt-in that needs an empty ParentID: one compromised node
	// then yields this identity. Entries registered before the opt-in
	// existed without a parent carry it.
	AnyAgent bool `json:"any_agent,omitempty"`
	// Selectors say which process gets the identity, as "type:value"
	// strings such as "unix:uid:1000"; all must match.
	Selectors []string `json:"selectors"`
	// Owner is the person or team accountable for the workload.
	Owner string `json:"owner,omitempty"`
	// BusinessFunction says what the workload is for.
	BusinessFunction string `json:"business_function,omitempty"`
	// Description is free text.
	Description string `json:"description,omitempty"`
	// MaxScopes caps the OAuth scopes any client of this entry may hold.
	MaxScopes []string `json:"max_scopes,omitempty"`
	// X509SVIDTTL overrides the server's X509-SVID lifetime; zero keeps it.
	X509SVIDTTL Duration `json:"x509_svid_ttl,omitempty"`
	// JWTSVIDTTL overrides the server's JWT-SVID lifetime; zero keeps it.
	JWTSVIDTTL Duration `json:"jwt_svid_ttl,omitempty"`
	// Labels are free key/value metadata.
	Labels map[string]string `json:"labels,omitempty"`
	// Status is "active" (default), "disabled" or "quarantined".
	Status string `json:"status,omitempty"`
	// CreatedAt and UpdatedAt are set by the server.
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Revision is the entry's version; an update must send the revision it
	// read, and fails with 409 Conflict if the entry changed since.
	Revision int64 `json:"revision,omitempty"`
}

// EntryBatch is the body of POST /v1/entries/batch: entries created
// together, all or none.
type EntryBatch struct {
	// Entries are the entries to create, as for POST /v1/entries (no id
	// or revision).
	Entries []Entry `json:"entries"`
}

// EntryList is a page of entries (GET /v1/entries), or the entries a
// batch created (POST /v1/entries/batch).
type EntryList struct {
	Entries []Entry `json:"entries"`
	// Next is the cursor for the following page ("after" query parameter);
	// empty on the last page.
	Next string `json:"next,omitempty"`
}

// EntryDeletion answers DELETE /v1/entries/{id}?cascade=true: the entry
// deleted and the OAuth clients that acted for it, deleted first.
type EntryDeletion struct {
	ID             string   `json:"id"`
	DeletedClients []string `json:"deleted_clients"`
}

// FederationCreate asks the server to federate with a foreign trust domain.
type FederationCreate struct {
	// TrustDomain is the foreign trust domain name, such as "partner.example".
	TrustDomain string `json:"trust_domain"`
	// BundleEndpointURL is the https:// URL of its bundle endpoint.
	BundleEndpointURL string `json:"bundle_endpoint_url"`
	// Profile is "https_web" or "https_spiffe".
	Profile string `json:"profile"`
	// EndpointSPIFFEID is the SPIFFE ID the endpoint presents (https_spiffe).
	EndpointSPIFFEID string `json:"endpoint_spiffe_id,omitempty"`
	// Bootstrap is the foreign SPIFFE bundle used to authenticate the
	// endpoint the first time (https_spiffe only).
	Bootstrap json.RawMessage `json:"bootstrap_bundle,omitempty"`
}

// Federation is a federation relationship and the state of its bundle.
type Federation struct {
	TrustDomain       string `json:"trust_domain"`
	BundleEndpointURL string `json:"bundle_endpoint_url"`
	Profile           string `json:"profile"`
	EndpointSPIFFEID  string `json:"endpoint_spiffe_id,omitempty"`
	// Sequence is the spiffe_sequence of the bundle held.
	Sequence uint64 `json:"sequence"`
	// LastRefresh is when the bundle was last fetched successfully.
	LastRefresh time.Time `json:"last_refresh,omitzero"`
	// NextRefresh is when it will be fetched next.
	NextRefresh time.Time `json:"next_refresh,omitzero"`
	// LastError is the last fetch failure, empty after a success.
	LastError string `json:"last_error,omitempty"`
	// Bundle is the foreign trust bundle held, in SPIFFE bundle format.
	Bundle json.RawMessage `json:"bundle,omitempty"`
}

// FederationList lists federation relationships.
type FederationList struct {
	Federations []Federation `json:"federations"`
}

// X509SVIDMint asks the CA to sign an X509-SVID for a CSR. The private key
// stays with the caller.
type X509SVIDMint struct {
	// SPIFFEID is the identity to put in the certificate.
	SPIFFEID string `json:"spiffe_id"`
	// CSR is the DER PKCS#10 request (base64 in JSON); its signature proves
	// possession of the key.
	CSR []byte `json:"csr"`
	// TTL is the requested lifetime; zero means the server default.
	TTL Duration `json:"ttl,omitempty"`
	// DNSNames are optional DNS SANs.
	DNSNames []string `json:"dns_names,omitempty"`
}

// X509SVID is a signed X509-SVID.
type X509SVID struct {
	SPIFFEID string `json:"spiffe_id"`
	// Certificates is the chain in DER, leaf first, up to but excluding the
	// trust bundle's root.
	Certificates [][]byte `json:"certificates"`
	// SerialNumber is the leaf's serial in hex.
	SerialNumber string    `json:"serial_number"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// JWTSVIDMint asks the CA for a JWT-SVID.
type JWTSVIDMint struct {
	SPIFFEID string   `json:"spiffe_id"`
	Audience []string `json:"audience"`
	TTL      Duration `json:"ttl,omitempty"`
}

// JWTSVID is a signed JWT-SVID.
type JWTSVID struct {
	SPIFFEID  string    `json:"spiffe_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Event is one audit event as the admin API lists it.
type Event struct {
	Index int64 `json:"index"`
	// Event is the event's canonical JSON as stored in the ledger.
	Event json.RawMessage `json:"event"`
}

// EventList is one page of audit events.
type EventList struct {
	Events []Event `json:"events"`
}

// LedgerKey identifies the audit ledger and the key that signs its
// checkpoints.
type LedgerKey struct {
	// Origin is the first line of every checkpoint of this ledger.
	Origin string `json:"origin"`
	// VerifierKey is the signed-note verifier key ("name+hash+key"), the
	// argument of kith audit verify --key.
	VerifierKey string `json:"verifier_key"`
}

// LedgerEntry is one leaf of the audit ledger.
type LedgerEntry struct {
	Index uint64 `json:"index"`
	// Data is the exact leaf data: the event's canonical JSON.
	Data json.RawMessage `json:"data"`
	// LeafHash is the stored RFC 6962 leaf hash.
	LeafHash []byte `json:"leaf_hash"`
}

// LedgerEntries is a range of ledger leaves.
type LedgerEntries struct {
	Entries []LedgerEntry `json:"entries"`
}

// Proof is a Merkle inclusion or consistency proof: hashes, in order.
type Proof struct {
	Hashes [][]byte `json:"hashes"`
}

// Checkpoints lists signed checkpoints, each a C2SP signed note.
type Checkpoints struct {
	Checkpoints []string `json:"checkpoints"`
}

// Evidence proves offline that one event is in the ledger: the entry, its
// inclusion proof, and the signed checkpoint the proof leads to.
type Evidence struct {
	Index      uint64          `json:"index"`
	Entry      json.RawMessage `json:"entry"`
	Proof      [][]byte        `json:"inclusion_proof"`
	Checkpoint string          `json:"checkpoint"`
}
