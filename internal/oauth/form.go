package oauth

import (
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxFormBytes bounds the body of a token, introspection or revocation
// request: enough for a client assertion, a subject token and their
// parameters.
const maxFormBytes = 64 << 10

// multiValued names the parameters that may be repeated: RFC 8707
// resource and RFC 8693 audience. RFC 6749 §3.2 forbids repeating any
// other.
func multiValued(name string) bool { return name == "resource" || name == "audience" }

// readForm reads the request body as an application/x-www-form-urlencoded
// form, strictly: parameters in the URL, a body over maxFormBytes, another
// media type and repeated parameters are refused.
func readForm(r *http.Request) (url.Values, error) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, &protocolError{code: codeInvalidRequest, desc: "send the parameters as application/x-www-form-urlencoded",
				status: http.StatusUnsupportedMediaType}
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return nil, invalidRequest("the form must be UTF-8")
		}
	}
	if r.URL.RawQuery != "" {
		return nil, invalidRequest("parameters must be sent in the request body, not the URL")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
	if err != nil {
		return nil, invalidRequest("the request body could not be read")
	}
	if len(body) > maxFormBytes {
		return nil, &protocolError{code: codeInvalidRequest, desc: "the request body is over 64 KiB",
			status: http.StatusRequestEntityTooLarge}
	}
	return parseForm(string(body))
}

// parseForm decodes a form body. Parameters without a value are dropped,
// as RFC 6749 §3.1 asks; a repeated parameter other than resource and
// audience, a malformed encoding and text that is not UTF-8 are refused
// with invalid_request.
func parseForm(body string) (url.Values, error) {
	vals, err := url.ParseQuery(body)
	if err != nil {
		return nil, invalidRequest("the form is malformed")
	}
	for name, vs := range vals {
		if !utf8.ValidString(name) {
			return nil, invalidRequest("a parameter name is not UTF-8")
		}
		kept := vs[:0]
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return nil, invalidRequest("parameter %s is not UTF-8", truncate(name))
			}
			if v != "" {
				kept = append(kept, v)
			}
		}
		switch {
		case len(kept) == 0:
			delete(vals, name)
		case len(kept) > 1 && !multiValued(name):
			return nil, invalidRequest("parameter %s is repeated", truncate(name))
		default:
			vals[name] = kept
		}
	}
	return vals, nil
}

// basicCredentials returns the client ID and secret of an HTTP Basic
// Authorization header, decoded as RFC 6749 §2.3.1 asks (both parts are
// form-urlencoded before base64). ok is false when there is no Basic
// header; err is set when there is one but it is malformed.
func basicCredentials(r *http.Request) (id, secret string, ok bool, err error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return "", "", false, nil
	}
	if len(h) > 1 {
		return "", "", true, invalidRequest("the Authorization header is repeated")
	}
	scheme, rest, _ := strings.Cut(h[0], " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", false, invalidRequest("the Authorization header must use the Basic scheme")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", true, invalidRequest("the Basic credentials are not base64")
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", true, invalidRequest("the Basic credentials lack a colon")
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", true, invalidRequest("the Basic client ID is not form-urlencoded")
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", true, invalidRequest("the Basic client secret is not form-urlencoded")
	}
	if id == "" || !utf8.ValidString(id) || !utf8.ValidString(secret) {
		return "", "", true, invalidRequest("the Basic credentials are malformed")
	}
	return id, secret, true, nil
}

// truncate shortens untrusted text for messages and the ledger, with
// anything shaped like a client secret replaced by its fingerprint.
func truncate(s string) string {
	const max = 64
	s = redactSecrets(s)
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
