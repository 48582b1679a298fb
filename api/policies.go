package api

import (
	"encoding/json"
	"time"
)

// PolicySet is the answer to GET /v1/policies: the latest revision of the
// policy set.
type PolicySet struct {
	// Revision is the set's revision; 0 before the first apply.
	Revision int64 `json:"revision"`
	// UpdatedAt and UpdatedBy say when and by whom the revision was
	// written.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	// Policies are the policy documents, sorted by name, each in the JSON
	// form of the YAML policy language (name, target, mode, rules).
	Policies []json.RawMessage `json:"policies"`
}

// Policy is the answer to GET /v1/policies/{name}.
type Policy struct {
	// Revision is the revision of the set the policy was read from.
	Revision int64 `json:"revision"`
	// Policy is the policy document.
	Policy json.RawMessage `json:"policy"`
}

// PolicyApply is the body of POST /v1/policies: policies to create or
// replace, by name; the set's other policies are kept.
type PolicyApply struct {
	Policies []json.RawMessage `json:"policies"`
}

// PolicyChange is what an apply or a delete did to one policy.
type PolicyChange struct {
	Name string `json:"name"`
	// Kind is "created", "updated", "deleted" or "unchanged".
	Kind string `json:"kind"`
	// Diff, for "updated", shows the changed lines.
	Diff string `json:"diff,omitempty"`
}

// PolicyApplyResult answers POST /v1/policies and DELETE
// /v1/policies/{name}.
type PolicyApplyResult struct {
	// Revision is the set's revision afterwards; unchanged when nothing
	// changed.
	Revision int64          `json:"revision"`
	Changes  []PolicyChange `json:"changes"`
}
