package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Errors of the client management methods. Test for them with errors.Is.
var (
	// ErrNotFound reports that no client (or no key) has the given ID.
	ErrNotFound = errors.New("oauth: not found")
	// ErrConflict reports that the client changed since it was read, or
	// that a key with the same ID is registered.
	ErrConflict = errors.New("oauth: conflict")
)

// ValidationError reports bad input to a client management method. Its
// text is safe to show to the caller.
type ValidationError struct {
	Field  string // the JSON name of the field at fault
	Reason string
}

// Error returns "invalid <field>: <reason>".
func (e *ValidationError) Error() string { return "invalid " + e.Field + ": " + e.Reason }

func invalidField(field, format string, a ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// Error codes of RFC 6749 §5.2, RFC 7009, RFC 8693, RFC 8707 and RFC 9449.
const (
	codeInvalidRequest       = "invalid_request"
	codeInvalidClient        = "invalid_client"
	codeInvalidGrant         = "invalid_grant"
	codeUnauthorizedClient   = "unauthorized_client"
	codeUnsupportedGrantType = "unsupported_grant_type"
	codeInvalidScope         = "invalid_scope"
	codeInvalidTarget        = "invalid_target"
	codeUnsupportedTokenType = "unsupported_token_type"
	codeInvalidDPoPProof     = "invalid_dpop_proof"
	codeUseDPoPNonce         = "use_dpop_nonce"
	codeTemporarily          = "temporarily_unavailable"
	codeServerError          = "server_error"
)

// protocolError is an OAuth error answer. desc is public text; cause, if
// any, is for the log and the ledger only and never reaches the caller.
type protocolError struct {
	code       string
	desc       string
	cause      error
	retryAfter time.Duration // 429 only
	basic      bool          // the client tried HTTP Basic authentication
	dpopNonce  string        // use_dpop_nonce only
	status     int           // overrides the code's status when not zero
}

func (e *protocolError) Error() string {
	if e.cause != nil {
		return e.code + ": " + e.desc + ": " + e.cause.Error()
	}
	return e.code + ": " + e.desc
}

func (e *protocolError) Unwrap() error { return e.cause }

// reason is the text recorded in the ledger for a refusal: the public
// description and, if any, the internal cause (never a secret: causes are
// built from parsed, non-secret facts).
func (e *protocolError) reason() string {
	if e.cause != nil {
		return e.desc + " (" + e.cause.Error() + ")"
	}
	return e.desc
}

func oauthErr(code, desc string) *protocolError { return &protocolError{code: code, desc: desc} }

func invalidRequest(format string, a ...any) *protocolError {
	return oauthErr(codeInvalidRequest, fmt.Sprintf(format, a...))
}

func invalidGrant(format string, a ...any) *protocolError {
	return oauthErr(codeInvalidGrant, fmt.Sprintf(format, a...))
}

func invalidScope(format string, a ...any) *protocolError {
	return oauthErr(codeInvalidScope, fmt.Sprintf(format, a...))
}

func invalidTarget(format string, a ...any) *protocolError {
	return oauthErr(codeInvalidTarget, fmt.Sprintf(format, a...))
}

// invalidClient is the one answer to every failed client authentication:
// it does not say whether the client exists or which check failed; cause
// says so in the ledger.
func invalidClient(cause error) *protocolError {
	return &protocolError{code: codeInvalidClient, desc: "client authentication failed", cause: cause}
}

func invalidDPoP(cause error) *protocolError {
	return &protocolError{code: codeInvalidDPoPProof, desc: "the DPoP proof is invalid", cause: cause}
}

func rateLimited(retry time.Duration) *protocolError {
	return &protocolError{code: codeTemporarily, desc: "too many requests; retry later", retryAfter: retry}
}

// errorBody is the JSON body of an OAuth error (RFC 6749 §5.2).
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeError is the one place that turns an error of the token,
// introspection and revocation endpoints into an HTTP answer: the status
// for the code, the headers it requires, and the public description. Any
// error that is not a protocol error is logged with the request's route and
// answered with a bare server_error.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *protocolError
	if !errors.As(err, &pe) {
		s.logger.ErrorContext(r.Context(), "oauth: request failed", "path", r.URL.Path, "error", redactSecrets(err.Error()))
		pe = oauthErr(codeServerError, "the server failed; see its log")
	}
	status := http.StatusBadRequest
	h := w.Header()
	switch pe.code {
	case codeInvalidClient:
		status = http.StatusUnauthorized
		if pe.basic {
			h.Set("WWW-Authenticate", `Basic realm="kith", charset="UTF-8"`)
		}
	case codeUseDPoPNonce:
		h.Set("DPoP-Nonce", pe.dpopNonce)
	case codeTemporarily:
		status = http.StatusServiceUnavailable
		if pe.retryAfter > 0 {
			status = http.StatusTooManyRequests
			h.Set("Retry-After", strconv.Itoa(int(max(time.Second, pe.retryAfter.Round(time.Second))/time.Second)))
		}
	case codeServerError:
		status = http.StatusInternalServerError
	case codeUnsupportedGrantType, codeInvalidRequest, codeInvalidGrant, codeUnauthorizedClient,
		codeInvalidScope, codeInvalidTarget, codeUnsupportedTokenType, codeInvalidDPoPProof:
	}
	if pe.status != 0 {
		status = pe.status
	}
	writeJSON(w, status, errorBody{Error: pe.code, Description: pe.desc})
}
