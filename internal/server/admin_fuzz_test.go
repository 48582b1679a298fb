package server

import (
	"bytes"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzAdminAPI sends arbitrary bodies, path values and query strings to
// every admin route, authenticated: whatever the input, the answer must
// be a client error or a success, never a 5xx, and a refusal must be a
// problem document.
func FuzzAdminAPI(f *testing.F) {
	ts := startServer(f, "example.org")
	routes := ts.allAdminRoutes()
	h := ts.adminHandler()
	for i := range routes {
		f.Add(uint8(i), "x", "", []byte(`{}`))
		f.Add(uint8(i), "0123", "limit=5&after=a", []byte(`{"spiffe_id":"spiffe://example.org/a","selectors":["unix:uid:1"],"ttl":"5m"}`))
		f.Add(uint8(i), "other.test", "type=entry.created&since=2026-01-01T00:00:00Z", []byte(`[`))
	}
	f.Add(uint8(1), "", "", []byte(`{"spiffe_id":"spiffe://example.org/`+strings.Repeat("a", 3000)+`","selectors":["unix:uid:1"]}`))
	f.Fuzz(func(t *testing.T, route uint8, value, query string, body []byte) {
		rt := routes[int(route)%len(routes)]
		method, path, _ := strings.Cut(rt.pattern, " ")
		for _, p := range []string{"{id}", "{td}", "{index}", "{name}", "{kid}", "{size}"} {
			path = strings.ReplaceAll(path, p, url.PathEscape(value))
		}
		target := path
		if q, err := url.ParseQuery(query); err == nil && len(query) < 2048 {
			target += "?" + q.Encode()
		}
		req := httptest.NewRequest(method, "https://kith.example"+target, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ts.token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", method, target, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%s %s: %d with Content-Type %q, want a problem document", method, target, rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}
