package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Document is one policy: the rules that protect one target. It is what
// a YAML document holds ([Parse]) and what the store keeps, as JSON.
type Document struct {
	// Name identifies the policy in its set: 1 to 128 letters, digits,
	// '.', '_' or '-'. Required.
	Name string `json:"name"`
	// Description is free text for people.
	Description string `json:"description,omitempty"`
	// Target is the protected service: a SPIFFE ID, or a pattern in which
	// '*' matches within one path segment and '**' matches any rest
	// (spiffe://example.org/payments/*). Required.
	Target string `json:"target"`
	// Mode is enforce (the default, "") or dry_run.
	Mode Mode `json:"mode,omitempty"`
	// Rules are the policy's rules, in no meaningful order: the decision
	// does not depend on it. A policy without rules denies every call to
	// its target.
	Rules []Rule `json:"rules"`

	// pos maps field paths ("rules[1].when") to where Parse found them;
	// nil for documents read from JSON.
	pos map[string]Position
	// style maps field paths to the YAML style of their scalar, to place
	// problems inside conditions.
	style map[string]yaml.Style
	// file is the file Parse read the document from.
	file string
}

// Rule is one rule of a policy: who (From), what (To), under which
// condition (When), and the Action taken when all of them match. Empty
// parts match everything.
type Rule struct {
	// Name is an optional label shown in decisions and explanations.
	Name string `json:"name,omitempty"`
	// From selects callers.
	From From `json:"from,omitzero"`
	// To selects requests.
	To To `json:"to,omitzero"`
	// When is a CEL expression over request, caller, token and trust that
	// must evaluate to true.
	When string `json:"when,omitempty"`
	// Action is taken when the rule matches. Required.
	Action Action `json:"action"`
	// StepUp is the authentication the step_up action requires; only and
	// always with step_up.
	StepUp *StepUp `json:"step_up,omitempty"`
	// Scopes are the only scopes a restrict rule leaves the caller; only
	// and always with restrict.
	Scopes []string `json:"scopes,omitempty"`
	// RateLimit is the rate a rate_limit rule allows; only and always with
	// rate_limit.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
}

// From selects callers. Each field lists alternatives (any may match);
// every non-empty field must match.
type From struct {
	// SPIFFEIDs are caller SPIFFE IDs or patterns ('*' within a segment,
	// '**' for any rest).
	SPIFFEIDs []string `json:"spiffe_ids,omitempty"`
	// TrustDomains are caller trust domains, such as "partner.example".
	TrustDomains []string `json:"trust_domains,omitempty"`
	// ClientIDs are OAuth client IDs the caller's token was issued to.
	ClientIDs []string `json:"client_ids,omitempty"`
	// Scopes must all be granted by the caller's token; unlike the other
	// fields, every one is required.
	Scopes []string `json:"scopes,omitempty"`
}

// To selects requests. Each field lists alternatives; every non-empty
// field must match.
type To struct {
	// Methods are HTTP methods such as GET, or "*".
	Methods []string `json:"methods,omitempty"`
	// Hosts are hosts, optionally with a port, or suffixes such as
	// "*.example.org"; compared without case.
	Hosts []string `json:"hosts,omitempty"`
	// Paths are exact paths (/healthz), prefixes (/api/*: everything
	// under /api/) or templates (/orders/{id}: one non-empty segment per
	// {name}); a template may end in /*.
	Paths []string `json:"paths,omitempty"`
}

// StepUp is the authentication a step_up rule requires (RFC 9470).
type StepUp struct {
	// ACR lists acceptable authentication context class references; the
	// token's acr must be one of them. Empty means any.
	ACR []string `json:"acr,omitempty"`
	// MaxAge is the longest time, in seconds, since the token's auth_time;
	// zero means no limit.
	MaxAge int64 `json:"max_age,omitempty"`
}

// RateLimit is the rate a rate_limit rule allows each caller.
type RateLimit struct {
	// RPS is the sustained rate in requests per second; more than zero.
	RPS float64 `json:"rps"`
	// Burst is how many requests may come at once; at least one.
	Burst int `json:"burst"`
}

// Position is a place in a policy file.
type Position struct {
	File   string
	Line   int
	Column int
}

// String returns "file:line:column", leaving out what is unknown (the
// column is 0 when unknown).
func (p Position) String() string {
	s := p.File
	if p.Line > 0 {
		if s != "" {
			s += ":"
		}
		s += strconv.Itoa(p.Line)
		if p.Column > 0 {
			s += ":" + strconv.Itoa(p.Column)
		}
	}
	return s
}

// Position returns where field (such as "rules[1].when"; "" for the
// document) was read from, as far as it is known: the nearest enclosing
// field Parse saw, or just the file.
func (d *Document) Position(field string) Position {
	for f := field; ; {
		if p, ok := d.pos[f]; ok {
			return p
		}
		if f == "" {
			return Position{File: d.file}
		}
		f = parentField(f)
	}
}

// parentField returns the field path that encloses f: "rules[1]" for
// "rules[1].when", "rules" for "rules[1]", "" for "rules".
func parentField(f string) string {
	for i := len(f) - 1; i >= 0; i-- {
		switch f[i] {
		case '.':
			return f[:i]
		case '[':
			return f[:i]
		}
	}
	return ""
}

// MarshalDocuments encodes docs as the JSON array the store keeps and the
// sync stream carries. It returns an error only for a Document holding an
// invalid Action.
func MarshalDocuments(docs []Document) ([]byte, error) {
	if docs == nil {
		docs = []Document{}
	}
	b, err := json.Marshal(docs)
	if err != nil {
		return nil, fmt.Errorf("policy: encode documents: %w", err)
	}
	return b, nil
}

// UnmarshalDocuments decodes a JSON array of documents. It checks the
// shape only; [Compile] validates the contents. It returns an error for
// JSON that is not an array of documents, including unknown fields.
func UnmarshalDocuments(data []byte) ([]Document, error) {
	var docs []Document
	if err := decodeStrict(data, &docs); err != nil {
		return nil, fmt.Errorf("policy: decode documents: %w", err)
	}
	return docs, nil
}

// UnmarshalDocument decodes one JSON document, refusing unknown fields.
func UnmarshalDocument(data []byte) (Document, error) {
	var d Document
	if err := decodeStrict(data, &d); err != nil {
		return Document{}, fmt.Errorf("policy: decode document: %w", err)
	}
	return d, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// MarshalYAML renders d as a YAML policy document, fields in the order of
// the JSON form. It returns an error only for a Document holding an
// invalid Action.
func MarshalYAML(d Document) ([]byte, error) {
	j, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("policy: encode document: %w", err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(j, &n); err != nil {
		return nil, fmt.Errorf("policy: encode document: %w", err)
	}
	blockStyle(&n)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("policy: encode document: %w", err)
	}
	return b.Bytes(), nil
}

// blockStyle clears the flow and quoting styles JSON input gave n, so that
// it encodes as block YAML (strings that need quotes still get them).
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
