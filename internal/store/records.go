package store

import "time"

// Entry is the stored form of a workload registry entry. The registry
// package owns its meaning and validation; the store keeps it as given.
type Entry struct {
	ID       string
	SPIFFEID string
	// ParentID is the agent that may serve the entry; empty for none.
	ParentID string
	// AnyAgent, with an empty ParentID, lets every agent serve the entry
	// (an explicit opt-in). An entry with neither is served by no agent.
	AnyAgent         bool
	Selectors        []string // canonical "type:value" strings, sorted by the caller
	Owner            string
	BusinessFunction string
	Description      string
	MaxScopes        []string
	X509SVIDTTL      time.Duration // zero: server default
	JWTSVIDTTL       time.Duration // zero: server default
	Labels           map[string]string
	Status           string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Revision is the store-wide change revision at which the entry was last
	// written. It is set by the store on create and update; callers pass the
	// revision they read to UpdateEntry for optimistic concurrency.
	Revision int64
}

// EntryFilter narrows ListEntries. Empty fields match everything.
type EntryFilter struct {
	SPIFFEID string
	ParentID string
	Status   string
	// AnyAgent, when set, selects only the entries every agent may serve.
	AnyAgent bool
	// After is the ID of the last entry of the previous page; entries are
	// returned in ID order.
	After string
	// Limit caps the page size; zero means 100, and it is capped at 1000.
	Limit int
}

// Federation is a stored federation relationship with a foreign trust
// domain and the last bundle fetched for it.
type Federation struct {
	TrustDomain       string
	BundleEndpointURL string
	Profile           string // "https_web" or "https_spiffe"
	EndpointSPIFFEID  string // https_spiffe only
	// Bundle is the foreign trust bundle in SPIFFE bundle (JWKS) JSON.
	Bundle      []byte
	Sequence    uint64
	LastRefresh time.Time // zero if never fetched successfully
	NextRefresh time.Time
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// AdminCredential is a hashed admin API token.
type AdminCredential struct {
	ID        string
	Hash      []byte // SHA-256 of the token
	Name      string
	CreatedAt time.Time
}

// Event is a stored ledger event. The ledger package owns its meaning.
type Event struct {
	Index   int64 // assigned by the store, from 0, contiguous
	Time    time.Time
	Type    string
	Outcome string
	Actor   string
	Target  string
	Body    []byte // the event's canonical JSON
	// LeafHash is the event's leaf hash in the ledger's Merkle tree; nil
	// for an event stored by AppendEvent that the tree does not cover yet.
	LeafHash []byte
}

// EventFilter narrows ListEvents. Empty fields match everything.
type EventFilter struct {
	Type    string
	Actor   string
	Target  string
	Outcome string
	// Since and Until, when not zero, bound Time to the half-open range
	// [Since, Until).
	Since time.Time
	Until time.Time
	// After selects events with Index > After; -1 for all. Note that the
	// zero value skips the event at index 0.
	After int64
	Limit int // zero means 100, capped at 1000
}
