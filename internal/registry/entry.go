package registry

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/store"
)

// Status is an entry's lifecycle state.
type Status string

// Entry statuses. Only active entries are issued identities.
const (
	StatusActive      Status = "active"
	StatusDisabled    Status = "disabled"
	StatusQuarantined Status = "quarantined"
)

// ParseStatus parses a status name; empty means active. It returns a
// *ValidationError for any other name.
func ParseStatus(s string) (Status, error) {
	switch Status(s) {
	case "":
		return StatusActive, nil
	case StatusActive, StatusDisabled, StatusQuarantined:
		return Status(s), nil
	}
	return "", &ValidationError{Field: "status", Reason: fmt.Sprintf("unknown status %q (want active, disabled or quarantined)", s)}
}

// Entry is a registered workload identity: the SPIFFE ID that processes
// matching all Selectors receive, with the governance facts about it.
//
// Which agents may serve it (obtain its SVIDs for workloads on their
// node) is its ParentID, or every agent of the trust domain when AnyAgent
// is set, an explicit opt-in: one compromised node then yields the
// entry's identity. An entry with neither is served by no agent; its
// credentials come from the server only (SVIDs minted through the admin
// API, OAuth clients bound to it).
type Entry struct {
	ID       string
	SPIFFEID spiffeid.ID
	ParentID spiffeid.ID // zero: see AnyAgent
	// AnyAgent lets every agent of the trust domain serve the entry; only
	// with a zero ParentID. Governance reports such entries (see
	// Filter.AnyAgent).
	AnyAgent         bool
	Selectors        []Selector // sorted, no duplicates, at least one
	Owner            string
	BusinessFunction string
	Description      string
	MaxScopes        []string
	X509SVIDTTL      time.Duration // zero: server default
	JWTSVIDTTL       time.Duration // zero: server default
	Labels           map[string]string
	Status           Status
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Revision         int64
}

// Spec is what a caller gives to create or update an entry, before
// validation: the same fields as [Entry] in their textual form.
type Spec struct {
	SPIFFEID string
	// ParentID is the agent that may serve the entry; empty for none,
	// unless AnyAgent.
	ParentID string
	// AnyAgent, with an empty ParentID, lets every agent serve the entry.
	AnyAgent         bool
	Selectors        []string
	Owner            string
	BusinessFunction string
	Description      string
	MaxScopes        []string
	X509SVIDTTL      time.Duration
	JWTSVIDTTL       time.Duration
	Labels           map[string]string
	Status           string
	// Revision is the revision an update was based on; ignored on create.
	Revision int64
}

// Limits on free-text fields, so one entry cannot bloat every agent's sync.
const (
	maxTextLen   = 1024
	maxScopes    = 256
	maxLabels    = 64
	maxTTL       = 30 * 24 * time.Hour
	minSVIDTTL   = time.Minute
	maxScopeLen  = 256
	maxLabelText = 256
)

// validate turns a Spec into an Entry (without ID, times or revision),
// checking every field against the trust domain td. Errors are
// *ValidationError naming the field.
func (s Spec) validate(td spiffeid.TrustDomain) (Entry, error) {
	var e Entry
	id, err := parseWorkloadID("spiffe_id", s.SPIFFEID, td)
	if err != nil {
		return e, err
	}
	e.SPIFFEID = id
	if s.ParentID != "" {
		if e.ParentID, err = parseWorkloadID("parent_id", s.ParentID, td); err != nil {
			return e, err
		}
		if e.ParentID == e.SPIFFEID {
			return e, &ValidationError{Field: "parent_id", Reason: "an entry cannot be its own parent"}
		}
		if s.AnyAgent {
			return e, &ValidationError{Field: "any_agent", Reason: "an entry is served by its parent agent or by any agent, not both: drop parent_id or any_agent"}
		}
	}
	e.AnyAgent = s.AnyAgent
	if e.Selectors, err = ParseSelectors(s.Selectors); err != nil {
		return e, err
	}
	for _, f := range [...]struct{ name, v string }{{"owner", s.Owner}, {"business_function", s.BusinessFunction}, {"description", s.Description}} {
		if err := checkText(f.name, f.v, maxTextLen); err != nil {
			return e, err
		}
	}
	e.Owner, e.BusinessFunction, e.Description = s.Owner, s.BusinessFunction, s.Description
	if e.MaxScopes, err = parseScopes(s.MaxScopes); err != nil {
		return e, err
	}
	if err := checkTTL("x509_svid_ttl", s.X509SVIDTTL); err != nil {
		return e, err
	}
	if err := checkTTL("jwt_svid_ttl", s.JWTSVIDTTL); err != nil {
		return e, err
	}
	e.X509SVIDTTL, e.JWTSVIDTTL = s.X509SVIDTTL, s.JWTSVIDTTL
	if e.Labels, err = parseLabels(s.Labels); err != nil {
		return e, err
	}
	if e.Status, err = ParseStatus(s.Status); err != nil {
		return e, err
	}
	return e, nil
}

// parseWorkloadID parses a SPIFFE ID that must belong to td and have a path.
func parseWorkloadID(field, s string, td spiffeid.TrustDomain) (spiffeid.ID, error) {
	if s == "" {
		return spiffeid.ID{}, &ValidationError{Field: field, Reason: "required"}
	}
	id, err := spiffeid.FromString(s)
	if err != nil {
		return spiffeid.ID{}, &ValidationError{Field: field, Reason: fmt.Sprintf("malformed SPIFFE ID %q: %v", truncate(s), err)}
	}
	if id.TrustDomain() != td {
		return spiffeid.ID{}, &ValidationError{Field: field, Reason: fmt.Sprintf("%s is not in trust domain %s", id, td)}
	}
	if id.Path() == "" {
		return spiffeid.ID{}, &ValidationError{Field: field, Reason: "a workload SPIFFE ID needs a path"}
	}
	if strings.HasPrefix(id.Path(), "/kith/") && field == "spiffe_id" {
		return spiffeid.ID{}, &ValidationError{Field: field, Reason: "paths under /kith/ are reserved for Kith's own components"}
	}
	return id, nil
}

func checkText(field, v string, max int) error {
	if len(v) > max {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("longer than %d bytes", max)}
	}
	if !utf8.ValidString(v) {
		return &ValidationError{Field: field, Reason: "not valid UTF-8"}
	}
	return nil
}

func parseScopes(in []string) ([]string, error) {
	if len(in) > maxScopes {
		return nil, &ValidationError{Field: "max_scopes", Reason: fmt.Sprintf("at most %d scopes", maxScopes)}
	}
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
		if s == "" || len(s) > maxScopeLen {
			return nil, &ValidationError{Field: "max_scopes", Reason: fmt.Sprintf("scope %q must be 1 to %d characters", truncate(s), maxScopeLen)}
		}
		for _, r := range s {
			if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
				return nil, &ValidationError{Field: "max_scopes", Reason: fmt.Sprintf("scope %q holds a character RFC 6749 forbids", truncate(s))}
			}
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

func checkTTL(field string, d time.Duration) error {
	if d == 0 {
		return nil
	}
	if d < minSVIDTTL || d > maxTTL {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("must be between %s and %s, or zero for the server default", minSVIDTTL, maxTTL)}
	}
	return nil
}

func parseLabels(in map[string]string) (map[string]string, error) {
	if len(in) > maxLabels {
		return nil, &ValidationError{Field: "labels", Reason: fmt.Sprintf("at most %d labels", maxLabels)}
	}
	for k, v := range in {
		if k == "" || len(k) > maxLabelText || len(v) > maxLabelText || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, &ValidationError{Field: "labels", Reason: fmt.Sprintf("label %q: keys must be 1 to %d bytes and values at most %d, in UTF-8", truncate(k), maxLabelText, maxLabelText)}
		}
	}
	return in, nil
}

func (e Entry) toRecord() store.Entry {
	sels := make([]string, len(e.Selectors))
	for i, s := range e.Selectors {
		sels[i] = s.String()
	}
	parent := ""
	if !e.ParentID.IsZero() {
		parent = e.ParentID.String()
	}
	return store.Entry{
		ID: e.ID, SPIFFEID: e.SPIFFEID.String(), ParentID: parent, AnyAgent: e.AnyAgent, Selectors: sels,
		Owner: e.Owner, BusinessFunction: e.BusinessFunction, Description: e.Description,
		MaxScopes: e.MaxScopes, X509SVIDTTL: e.X509SVIDTTL, JWTSVIDTTL: e.JWTSVIDTTL,
		Labels: e.Labels, Status: string(e.Status),
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Revision: e.Revision,
	}
}

// fromRecord converts a stored entry. Stored entries were validated on the
// way in; a record that no longer parses is reported, not guessed at.
func fromRecord(r store.Entry) (Entry, error) {
	e := Entry{
		ID: r.ID, AnyAgent: r.AnyAgent && r.ParentID == "", Owner: r.Owner, BusinessFunction: r.BusinessFunction, Description: r.Description,
		MaxScopes: r.MaxScopes, X509SVIDTTL: r.X509SVIDTTL, JWTSVIDTTL: r.JWTSVIDTTL,
		Labels: r.Labels, Status: Status(r.Status),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Revision: r.Revision,
	}
	var err error
	if e.SPIFFEID, err = spiffeid.FromString(r.SPIFFEID); err != nil {
		return Entry{}, fmt.Errorf("stored entry %s: spiffe id: %w", r.ID, err)
	}
	if r.ParentID != "" {
		if e.ParentID, err = spiffeid.FromString(r.ParentID); err != nil {
			return Entry{}, fmt.Errorf("stored entry %s: parent id: %w", r.ID, err)
		}
	}
	e.Selectors = make([]Selector, 0, len(r.Selectors))
	for _, s := range r.Selectors {
		typ, v, _ := strings.Cut(s, ":")
		e.Selectors = append(e.Selectors, Selector{Type: typ, Value: v})
	}
	return e, nil
}

// Spec returns the entry as a Spec, for read-modify-write updates.
func (e Entry) Spec() Spec {
	r := e.toRecord()
	return Spec{
		SPIFFEID: r.SPIFFEID, ParentID: r.ParentID, AnyAgent: e.AnyAgent, Selectors: r.Selectors,
		Owner: e.Owner, BusinessFunction: e.BusinessFunction, Description: e.Description,
		MaxScopes: e.MaxScopes, X509SVIDTTL: e.X509SVIDTTL, JWTSVIDTTL: e.JWTSVIDTTL,
		Labels: e.Labels, Status: string(e.Status), Revision: e.Revision,
	}
}
