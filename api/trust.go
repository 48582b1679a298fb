package api

import "time"

// TrustState is a caller's trust as the behavioural-trust engine holds
// it (GET /v1/trust/{id}, and each item of GET /v1/trust).
type TrustState struct {
	// Identity is the caller's SPIFFE ID, or its OAuth client ID.
	Identity string `json:"identity"`
	// Score is 0 to 1000; Level follows from it: untrusted below 200, low
	// below 500, medium below 800, high above.
	Score int    `json:"score"`
	Level string `json:"level"`
	// Signals name what weighs on the score.
	Signals []string `json:"signals,omitempty"`
	// Reasons list each thing that weighs on the score, with its points.
	Reasons []TrustReason `json:"reasons,omitempty"`
	// Known says the engine has seen the caller; WarmingUp that it is
	// still learning it (no detector fires for it yet).
	Known     bool `json:"known"`
	WarmingUp bool `json:"warming_up,omitempty"`
	// FirstSeen and LastSeen date its first and last call; Calls counts
	// them.
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	Calls     int64     `json:"calls,omitempty"`
	// Contexts are its context inputs (GET /v1/trust/{id} only).
	Contexts []TrustContext `json:"contexts,omitempty"`
	// RecentSignals are its signals of the last day, oldest first (GET
	// /v1/trust/{id} only).
	RecentSignals []TrustSignal `json:"recent_signals,omitempty"`
}

// TrustReason is one thing that weighs on a trust score.
type TrustReason struct {
	// Kind is "credential" (the base score), "signal" or "context".
	Kind string `json:"kind"`
	// Name is the credential type, the signal kind or the context kind.
	Name string `json:"name"`
	// Points is the effect on the score: the base for the credential,
	// negative for what lowers it.
	Points int    `json:"points"`
	Detail string `json:"detail,omitempty"`
	// Since is when it started weighing; Until when a context input
	// expires.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
}

// TrustList is GET /v1/trust: the callers the engine tracks, filtered by
// level and identity (a substring).
type TrustList struct {
	States []TrustState `json:"states"`
}

// TrustSignal is one signal: evidence about a caller found by one
// detector, as recorded in the ledger.
type TrustSignal struct {
	// Index is the ledger index of its trust.signal event.
	Index      int64     `json:"index"`
	Time       time.Time `json:"time"`
	Identity   string    `json:"identity"`
	Credential string    `json:"credential,omitempty"`
	// Kind is a dotted name such as "rate.spike"; Severity is low,
	// medium, high or critical.
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	// Evidence says what was expected and what was seen.
	Evidence map[string]string `json:"evidence,omitempty"`
}

// SignalList is GET /v1/signals: signals oldest first, filtered by
// identity, kind and time.
type SignalList struct {
	Signals []TrustSignal `json:"signals"`
}

// TrustHistory is GET /v1/trust/{id}/history: the caller's trust.*
// ledger events (signals, level changes, clears, context inputs), oldest
// first.
type TrustHistory struct {
	Events []Event `json:"events"`
}

// TrustClear is the body of POST /v1/trust/{id}/clear.
type TrustClear struct {
	// Reason says why, for the ledger.
	Reason string `json:"reason,omitempty"`
}

// TrustContext is a context input about a caller: evidence from outside
// its calls (a vulnerability, a leaked credential, a partner's event)
// that takes Weight points from its score until it expires or is
// removed. The body of POST /v1/trust/{id}/context, and an item of
// TrustState.Contexts.
type TrustContext struct {
	// ID names the input; an input with the ID of one the caller has
	// replaces it.
	ID string `json:"id"`
	// Kind is a short dotted name: "vulnerability", "leak", ...
	Kind string `json:"kind"`
	// Reason says why, for people.
	Reason string `json:"reason"`
	// Weight is the points taken from the score, -1000 to 1000.
	Weight int `json:"weight"`
	// Expires is when it stops weighing; required.
	Expires time.Time `json:"expires"`
	// Source names who said so; the admin when empty.
	Source string `json:"source,omitempty"`
}

// TrustContextRemove is the body of DELETE /v1/trust/{id}/context.
type TrustContextRemove struct {
	ID string `json:"id"`
}
