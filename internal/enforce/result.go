package enforce

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/policy"
)

// Reason says why a call was refused, in words safe to send to the caller.
type Reason string

// Reasons a call is refused; the empty Reason means it was not.
const (
	ReasonNoClientCert      Reason = "client_certificate_required"
	ReasonBadClientCert     Reason = "invalid_client_certificate"
	ReasonUntrustedDomain   Reason = "untrusted_trust_domain"
	ReasonRevokedClientCert Reason = "revoked_client_certificate"
	ReasonNoToken           Reason = "token_required"
	ReasonInvalidToken      Reason = "invalid_token"
	ReasonExpiredToken      Reason = "expired_token"
	ReasonRevokedToken      Reason = "revoked_token"
	ReasonTokenBinding      Reason = "invalid_token_binding"
	ReasonStepUp            Reason = "insufficient_user_authentication"
	ReasonDenied            Reason = "denied"
	ReasonQuarantined       Reason = "quarantined"
	ReasonRateLimited       Reason = "rate_limited"
	ReasonUnavailable       Reason = "unavailable"
)

// Credential types of [Credential.Type].
const (
	CredX509SVID = "x509_svid"
	CredBearer   = "bearer"
	CredMTLS     = "mtls_bound"
	CredDPoP     = "dpop"
)

// Caller is the verified caller of a call.
type Caller struct {
	// SPIFFEID is from the caller's X509-SVID or, without one, the
	// subject of its token; zero when neither is known.
	SPIFFEID spiffeid.ID
	// ClientID is the OAuth client of the caller's token, if any.
	ClientID string
	// Scopes are the scopes the call may use: the token's, narrowed by a
	// restrict decision.
	Scopes []string
	// Restricted says a restrict decision narrowed Scopes.
	Restricted bool
}

// Credential names the credential that authenticated the call.
type Credential struct {
	// ID is the token's jti, or the certificate's serial in hex.
	ID string
	// Type is one of the Cred constants.
	Type string
}

// Result is the outcome of [Enforcer.Check] for one call.
type Result struct {
	// Caller is who called, as far as verification got.
	Caller Caller
	// Credential is the credential that authenticated the call.
	Credential Credential
	// Decision is the policy decision; zero when the call was refused
	// before policy was consulted.
	Decision policy.Decision
	// Trust is the caller's trust state the decision saw.
	Trust policy.Trust
	// Reason is why the call was refused; empty when it is allowed.
	Reason Reason
	// Status is the HTTP status to answer a refused call with; zero when
	// the call is allowed.
	Status int
	// Header holds the headers of the refusal (Content-Type,
	// WWW-Authenticate, Retry-After); nil when the call is allowed.
	Header http.Header
	// Body is the RFC 9457 problem document of the refusal.
	Body []byte
	// Err is the internal cause of a refusal, for logs only: it must not
	// reach the caller.
	Err error
}

// Allowed reports whether the call may go through.
func (r *Result) Allowed() bool { return r.Reason == "" }

// Action returns the decided action's name, or "refused" for a call
// refused before policy was consulted.
func (r *Result) Action() string {
	if s := r.Decision.Action.String(); s != "" {
		return s
	}
	return "refused"
}

// WriteError answers a refused call on w with the refusal's status,
// headers and problem body. It writes nothing for an allowed call.
func (r *Result) WriteError(w http.ResponseWriter) {
	if r.Allowed() {
		return
	}
	h := w.Header()
	for k, v := range r.Header {
		h[k] = v
	}
	w.WriteHeader(r.Status)
	w.Write(r.Body)
}

// problem is an RFC 9457 problem document.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Reason Reason `json:"reason"`
}

// refuse fills r as a refusal for reason; it is the one place that maps a
// refusal to its status, headers and public text. stepUp is the challenge
// of a step-up refusal and retry the wait of a rate-limit refusal.
func (r *Result) refuse(reason Reason, cause error, stepUp *policy.StepUp, retry time.Duration) *Result {
	status, title, challenge := http.StatusUnauthorized, "Unauthorized", ""
	switch reason {
	case ReasonNoClientCert, ReasonBadClientCert, ReasonUntrustedDomain, ReasonRevokedClientCert:
		title = "The client certificate was not accepted"
	case ReasonNoToken:
		title, challenge = "An access token is required", `Bearer realm="kith"`
	case ReasonInvalidToken, ReasonExpiredToken, ReasonRevokedToken:
		title, challenge = "The access token was not accepted", `Bearer realm="kith", error="invalid_token"`
	case ReasonTokenBinding:
		title, challenge = "The access token's binding was not proven", `DPoP error="invalid_dpop_proof", algs="ES256 ES384 ES512 RS256 PS256 EdDSA"`
	case ReasonStepUp:
		title = "A stronger authentication is required"
		if stepUp != nil {
			challenge = stepUp.Challenge()
		}
	case ReasonDenied:
		status, title = http.StatusForbidden, "The call is not allowed"
	case ReasonQuarantined:
		status, title = http.StatusForbidden, "The caller is quarantined"
	case ReasonRateLimited:
		status, title = http.StatusTooManyRequests, "Too many requests"
	default:
		reason, status, title = ReasonUnavailable, http.StatusServiceUnavailable, "The call cannot be verified now"
	}
	body, _ := json.Marshal(problem{Type: "https://kith.dev/problems/" + string(reason), Title: title, Status: status, Reason: reason})
	r.Reason, r.Status, r.Body, r.Err = reason, status, body, cause
	r.Header = http.Header{"Content-Type": {"application/problem+json"}}
	if challenge != "" {
		r.Header.Set("WWW-Authenticate", challenge)
	}
	if reason == ReasonRateLimited {
		secs := int64((retry + time.Second - 1) / time.Second)
		r.Header.Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
	return r
}
