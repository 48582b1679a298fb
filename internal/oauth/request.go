package oauth

import (
	"net/url"
	"strings"
)

// Grant types and token types the token endpoint supports.
const (
	grantClientCredentials = "client_credentials"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
)

// tokenRequest is a parsed token request, before client authentication.
type tokenRequest struct {
	grantType  string
	scope      []string // nil when the scope parameter was not given
	resources  []string // RFC 8707
	audiences  []string // RFC 8693
	subject    string   // subject_token
	subjectTyp string   // subject_token_type
	requested  string   // requested_token_type
}

// parseTokenRequest reads the grant parameters of a token request form
// (RFC 6749 §4.4.2, RFC 8693 §2.1, RFC 8707 §2). Client credentials are
// read separately. Errors are invalid_request, unsupported_grant_type,
// invalid_scope or invalid_target.
func parseTokenRequest(form url.Values) (*tokenRequest, error) {
	req := &tokenRequest{grantType: form.Get("grant_type")}
	switch req.grantType {
	case "":
		return nil, invalidRequest("grant_type is required")
	case grantClientCredentials, grantTokenExchange:
	default:
		return nil, oauthErr(codeUnsupportedGrantType, "the supported grant types are client_credentials and token exchange")
	}
	if v, ok := form["scope"]; ok {
		scopes, err := parseScopeParam(v[0])
		if err != nil {
			return nil, err
		}
		req.scope = scopes
	}
	for _, r := range form["resource"] {
		if err := checkResource(r); err != nil {
			return nil, err
		}
		req.resources = appendUnique(req.resources, r)
	}
	if req.grantType != grantTokenExchange {
		if _, ok := form["audience"]; ok {
			return nil, invalidRequest("audience is a token exchange parameter; use resource")
		}
		return req, nil
	}
	for _, a := range form["audience"] {
		if err := checkResource(a); err != nil {
			return nil, err
		}
		req.audiences = appendUnique(req.audiences, a)
	}
	req.subject, req.subjectTyp, req.requested = form.Get("subject_token"), form.Get("subject_token_type"), form.Get("requested_token_type")
	switch {
	case req.subject == "" || req.subjectTyp == "":
		return nil, invalidRequest("subject_token and subject_token_type are required")
	case req.subjectTyp != tokenTypeAccessToken && req.subjectTyp != tokenTypeJWT:
		return nil, invalidRequest("subject_token_type must be an access token or a JWT issued by this server")
	case form.Get("actor_token") != "" || form.Get("actor_token_type") != "":
		return nil, invalidRequest("actor_token is not supported: the authenticated client is the actor")
	case req.requested != "" && req.requested != tokenTypeAccessToken && req.requested != tokenTypeJWT:
		return nil, invalidRequest("only access tokens can be requested")
	}
	return req, nil
}

// parseScopeParam splits a scope parameter: scope tokens separated by
// single spaces (RFC 6749 §3.3). Duplicates are dropped.
func parseScopeParam(v string) ([]string, error) {
	parts := strings.Split(v, " ")
	if len(parts) > maxScopes {
		return nil, invalidScope("at most %d scopes", maxScopes)
	}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if !validScopeToken(p) {
			return nil, invalidScope("the scope parameter is malformed")
		}
		out = appendUnique(out, p)
	}
	return out, nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
