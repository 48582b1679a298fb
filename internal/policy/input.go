package policy

import "time"

// Input is everything a decision may look at: the protected target, the
// authenticated caller, its token, the request and the caller's trust
// state. The proxy fills one per call; [Set.Decide] reads it and keeps no
// reference to it after it returns, so Inputs may be pooled and reused —
// a reused Input makes decisions without CEL conditions allocation-free.
//
// Strings are compared as given: the proxy passes SPIFFE IDs in
// canonical form, the method in upper case and the decoded URL path.
type Input struct {
	// Target is the SPIFFE ID of the protected service.
	Target string `json:"target"`
	// Caller is who calls.
	Caller Caller `json:"caller"`
	// Token is the caller's access token, if it presented one.
	Token Token `json:"token"`
	// Request is the call.
	Request Request `json:"request"`
	// Trust is the caller's current trust state.
	Trust Trust `json:"trust"`
	// Time is when the call is decided, for step-up max_age; zero means
	// the Set's clock.
	Time time.Time `json:"time,omitzero"`

	// act is the CEL activation over this Input, reused across calls.
	act activation
}

// Caller is the authenticated caller.
type Caller struct {
	// SPIFFEID is the caller's SPIFFE ID from its X509-SVID or JWT-SVID;
	// empty when it has none.
	SPIFFEID string `json:"spiffe_id,omitempty"`
	// TrustDomain is the caller's trust domain; derived from SPIFFEID when
	// empty.
	TrustDomain string `json:"trust_domain,omitempty"`
	// ClientID is the OAuth client the caller's token was issued to.
	ClientID string `json:"client_id,omitempty"`
}

// Token is what a verified access token says.
type Token struct {
	// Present says the caller presented a valid token; the other fields
	// are meaningful only then.
	Present  bool     `json:"present"`
	Subject  string   `json:"subject,omitempty"`
	Issuer   string   `json:"issuer,omitempty"`
	Audience []string `json:"audience,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
	// ACR is the authentication context class reference (RFC 9470).
	ACR string `json:"acr,omitempty"`
	// AuthTime is when the subject authenticated, in Unix seconds; zero
	// when unknown.
	AuthTime int64 `json:"auth_time,omitempty"`
	// Claims are the token's other claims, for CEL conditions.
	Claims map[string]any `json:"claims,omitempty"`
}

// Request is the call being decided.
type Request struct {
	// Method is the HTTP method, such as GET.
	Method string `json:"method"`
	// Host is the Host header (authority), with or without a port.
	Host string `json:"host,omitempty"`
	// Path is the decoded URL path, without the query.
	Path string `json:"path"`
	// Headers are the request headers the proxy passes to conditions,
	// keyed by lower-case name; the proxy leaves out credentials.
	Headers map[string]string `json:"headers,omitempty"`
}

// Trust is the caller's trust state from the trust engine.
type Trust struct {
	// Score is the trust score, from 0 (none) to 1000 (full).
	Score int `json:"score"`
	// Level names the band the score is in, such as "high".
	Level string `json:"level,omitempty"`
	// Signals name the evidence behind the score, such as "anomaly.rate".
	Signals []string `json:"signals,omitempty"`
}

// callerTrustDomain returns the caller's trust domain, derived from its
// SPIFFE ID when not given.
func (in *Input) callerTrustDomain() string {
	if in.Caller.TrustDomain != "" {
		return in.Caller.TrustDomain
	}
	return trustDomainOf(in.Caller.SPIFFEID)
}

// hasScopes reports whether the token grants every scope in want.
func (t *Token) hasScopes(want []string) bool {
	if len(want) == 0 {
		return true
	}
	if !t.Present {
		return false
	}
	for _, w := range want {
		found := false
		for _, s := range t.Scopes {
			if s == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
