package trust

import (
	"net/netip"
	"time"

	"github.com/kith-dev/kith/internal/callrecord"
)

// Call is one decided call as the engine sees it: what a proxy or the
// middleware recorded, plus where the call came from. [Engine.Observe]
// reads a Call and keeps none of its strings (it copies the identity of a
// caller it has not seen), so a Call and its strings may be reused, or
// point into a buffer that is reused, once Observe returns.
type Call struct {
	// Time is when the call was decided; required.
	Time time.Time
	// Caller is the identity the state is kept for: the caller's SPIFFE
	// ID, or its OAuth client ID when it has none. A call without one is
	// ignored.
	Caller string
	// Credential names the credential used (a token's jti, a
	// certificate's serial, a client ID); never the credential itself.
	Credential string
	// CredentialType is how the caller authenticated, such as
	// "x509_svid", "mtls_bound", "dpop" or "bearer" (see [Strength]).
	CredentialType string
	// Target is the SPIFFE ID of the called service.
	Target string
	// Method is the HTTP method.
	Method string
	// Route is the route template ("/v1/invoices/{id}"); when empty the
	// engine derives one from Path, replacing segments that look like
	// identifiers by "{id}".
	Route string
	// Path is the request path.
	Path string
	// Status is the HTTP status answered.
	Status int
	// ReqBytes and RespBytes are the request and response body sizes.
	ReqBytes, RespBytes int64
	// Source is the caller's address as the inbound side saw it; the zero
	// Addr when unknown.
	Source netip.Addr
	// Node names the node whose agent reported the call (its SPIFFE ID);
	// empty when unknown. The engine uses it as the caller's place when
	// Source is unknown.
	Node string
	// Latency is the call's latency through the proxy.
	Latency time.Duration
	// Decision is the decided action ("allow", "deny", "step_up", ...) or
	// "refused" for a call refused before policy; empty when unknown.
	Decision string
}

// FromRecord returns the Call of a committed call record, with the
// caller's source address and the reporting node, which the record does
// not carry (the server knows the node from the agent that uploaded the
// batch). The Call's strings are the record's.
func FromRecord(r *callrecord.Record, source netip.Addr, node string) Call {
	caller := r.Caller
	if caller == "" {
		caller = r.ClientID
	}
	return Call{
		Time: r.Time, Caller: caller, Credential: r.CredentialID, CredentialType: r.CredentialType,
		Target: r.Target, Method: r.Method, Route: r.Route, Path: r.Path, Status: r.Status,
		ReqBytes: r.BytesIn, RespBytes: r.BytesOut, Source: source, Node: node,
		Latency: r.Latency(), Decision: r.Decision,
	}
}

// refused reports whether the call was denied by policy or refused
// before it, or answered with a status that probing produces (401, 403,
// 404, 405): the errors detector counts these. A call that remediation
// answered (step-up, quarantine, rate limit, restricted scopes) is not
// counted: the engine must not feed on its own verdicts.
func (c *Call) refused() bool {
	switch c.Decision {
	case "step_up", "quarantine", "rate_limit", "restrict":
		return false
	}
	switch c.Status {
	case 401, 403, 404, 405:
		return true
	}
	return denied(c.Decision)
}

// denied reports whether decision is one that refused the call by policy
// (or before it).
func denied(decision string) bool {
	switch decision {
	case "deny", "refused":
		return true
	}
	return false
}

// Allowance says whether policy allows a caller a route (see
// [Config.RouteAllowed]).
type Allowance uint8

// Allowances.
const (
	// Unknown: policy was not asked, or has no opinion.
	Unknown Allowance = iota
	// Allowed: a policy allows the caller this route.
	Allowed
	// Denied: no policy allows it.
	Denied
)

// allowance returns whether the call's route is allowed: by the engine's
// RouteAllowed when set, from the call's own decision otherwise.
func (e *Engine) allowance(c *Call) Allowance {
	if e.cfg.RouteAllowed != nil {
		if a := e.cfg.RouteAllowed(c.Caller, c.Target, c.Method, c.routeOrPath()); a != Unknown {
			return a
		}
	}
	switch c.Decision {
	case "":
		return Unknown
	case "allow", "audit", "restrict", "rate_limit", "step_up":
		return Allowed
	}
	if denied(c.Decision) {
		return Denied
	}
	return Unknown
}

// routeOrPath returns the route template, or the path without one.
func (c *Call) routeOrPath() string {
	if c.Route != "" {
		return c.Route
	}
	return c.Path
}
