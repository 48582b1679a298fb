package policy

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// Record is the decision log entry of one call. Its first fields are
// those of an OPA decision log (decision_id, revision, input, result,
// timestamp), so that tools reading OPA logs read it; the rest are Kith's.
type Record struct {
	DecisionID string    `json:"decision_id"`
	Timestamp  time.Time `json:"timestamp"`
	// Path is the decision's name, as OPA's query path: always
	// "kith/policy/decide".
	Path string `json:"path"`
	// Revision is the policy set's revision (OPA: bundle revision).
	Revision int64 `json:"revision"`
	// Input is the input decided on, without credentials-bearing headers.
	Input Input `json:"input"`
	// Result is the enforced outcome.
	Result RecordResult `json:"result"`
	// DryRun is the outcome with dry-run policies enforced too, if any
	// applied.
	DryRun *RecordResult `json:"dry_run,omitempty"`
	// Protected says an enforced policy targets the service.
	Protected bool `json:"protected"`
}

// RecordResult is an [Outcome] in a record.
type RecordResult struct {
	Action      Action      `json:"action"`
	Allowed     bool        `json:"allowed"`
	Rule        RuleRef     `json:"rule,omitzero"`
	Reason      string      `json:"reason"`
	Obligations Obligations `json:"obligations,omitzero"`
	Inputs      []string    `json:"inputs,omitempty"`
	Error       string      `json:"error,omitempty"`
}

// NewDecisionID returns a random decision ID (128 bits, hex).
func NewDecisionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// redactedHeader reports whether a header is never copied into records: they carry credentials.
func redactedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "dpop", "x-api-key":
		return true
	}
	return false
}

// NewRecord returns the record of decision d on in, made at t with ID id
// (see [NewDecisionID]). It copies what it keeps of in.
func NewRecord(id string, t time.Time, in *Input, d *Decision) Record {
	r := Record{DecisionID: id, Timestamp: t.UTC(), Path: "kith/policy/decide", Revision: d.Revision,
		Input: *in, Result: recordResult(&d.Outcome), Protected: d.Protected}
	r.Input.act = activation{}
	if h := in.Request.Headers; h != nil {
		r.Input.Request.Headers = make(map[string]string, len(h))
		for k, v := range h {
			if !redactedHeader(k) {
				r.Input.Request.Headers[k] = v
			}
		}
	}
	if d.HasDryRun {
		dr := recordResult(&d.DryRun)
		r.DryRun = &dr
	}
	return r
}

func recordResult(o *Outcome) RecordResult {
	rr := RecordResult{Action: o.Action, Allowed: o.Allowed(), Rule: o.Rule, Reason: o.Reason, Obligations: o.Obligations, Inputs: o.Inputs}
	if o.Err != nil {
		rr.Error = o.Err.Error()
	}
	return rr
}
