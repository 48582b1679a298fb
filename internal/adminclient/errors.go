package adminclient

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"github.com/kith-dev/kith/api"
)

// StatusError is returned for a non-2xx reply that is not a problem
// document, such as a proxy's error page.
type StatusError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// ContentType is the reply's media type, if any.
	ContentType string
	// Excerpt is the start of the reply body, made printable.
	Excerpt string
}

// Error describes the reply.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.ContentType != "" {
		msg += " (" + e.ContentType + ")"
	}
	if e.Excerpt != "" {
		msg += ": " + e.Excerpt
	}
	return msg
}

// maxExcerpt caps StatusError.Excerpt, in runes.
const maxExcerpt = 200

// replyError turns a non-2xx reply into a *api.Problem if its body is one,
// or a *StatusError otherwise.
func replyError(resp *http.Response, body []byte) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		var p api.Problem
		if err := json.Unmarshal(body, &p); err == nil && p.Title != "" {
			if p.Status == 0 {
				p.Status = resp.StatusCode
			}
			return &p
		}
	}
	return &StatusError{StatusCode: resp.StatusCode, ContentType: mt, Excerpt: excerpt(body)}
}

// excerpt returns the start of b on one line, without control characters.
func excerpt(b []byte) string {
	var sb strings.Builder
	n := 0
	for _, r := range strings.TrimSpace(strings.ToValidUTF8(string(b), "?")) {
		if n == maxExcerpt {
			sb.WriteString("…")
			break
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		sb.WriteRune(r)
		n++
	}
	return sb.String()
}
