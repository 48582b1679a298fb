package witness

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// requestBody returns an add-checkpoint body.
func requestBody(t testing.TB, old uint64, proof [][]byte, cp []byte) string {
	t.Helper()
	b, err := formatAddCheckpoint(old, proof, cp)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandler(t *testing.T) {
	const textPlain = "text/plain; charset=utf-8"
	for _, tc := range []struct {
		name     string
		method   string // POST if empty
		path     string // /add-checkpoint if empty
		known    []uint64
		body     func(t testing.TB, e *env) string
		failing  bool // the store fails
		wantCode int
		wantType string
		wantBody string // exact, unless empty
	}{
		{
			name:     "first checkpoint",
			body:     func(t testing.TB, e *env) string { return requestBody(t, 0, nil, e.log.checkpoint(t, 100)) },
			wantCode: http.StatusOK, wantType: textPlain,
		},
		{
			name: "growth", known: []uint64{100},
			body: func(t testing.TB, e *env) string {
				return requestBody(t, 100, e.log.proof(t, 100, 300), e.log.checkpoint(t, 300))
			},
			wantCode: http.StatusOK, wantType: textPlain,
		},
		{
			name: "stale old size", known: []uint64{100},
			body: func(t testing.TB, e *env) string {
				return requestBody(t, 50, e.log.proof(t, 50, 300), e.log.checkpoint(t, 300))
			},
			wantCode: http.StatusConflict, wantType: "text/x.tlog.size", wantBody: "100\n",
		},
		{
			name: "old size for a log never cosigned",
			body: func(t testing.TB, e *env) string {
				return requestBody(t, 50, e.log.proof(t, 50, 300), e.log.checkpoint(t, 300))
			},
			wantCode: http.StatusConflict, wantType: "text/x.tlog.size", wantBody: "0\n",
		},
		{
			name: "fork", known: []uint64{100},
			body: func(t testing.TB, e *env) string {
				return requestBody(t, 100, nil, e.log.fork(t, 3, 100).checkpoint(t, 100))
			},
			wantCode: http.StatusConflict, wantType: textPlain,
		},
		{
			name: "unknown origin",
			body: func(t testing.TB, e *env) string {
				return requestBody(t, 0, nil, newTestLog(t, "example.com/other", 5).checkpoint(t, 5))
			},
			wantCode: http.StatusNotFound, wantType: textPlain,
		},
		{
			name: "bad log signature",
			body: func(t testing.TB, e *env) string {
				return requestBody(t, 0, nil, corruptSignature(t, e.log.checkpoint(t, 100)))
			},
			wantCode: http.StatusForbidden, wantType: textPlain,
		},
		{
			name: "bad proof", known: []uint64{100},
			body: func(t testing.TB, e *env) string {
				p := e.log.proof(t, 100, 300)
				p[0][5] ^= 0x80
				return requestBody(t, 100, p, e.log.checkpoint(t, 300))
			},
			wantCode: http.StatusUnprocessableEntity, wantType: textPlain,
		},
		{
			name:     "old size larger than checkpoint",
			body:     func(t testing.TB, e *env) string { return requestBody(t, 200, nil, e.log.checkpoint(t, 100)) },
			wantCode: http.StatusBadRequest, wantType: textPlain,
		},
		{
			name:     "garbage",
			body:     func(t testing.TB, e *env) string { return "\x00\x01 not a request" },
			wantCode: http.StatusBadRequest, wantType: textPlain,
		},
		{
			name:     "empty body",
			body:     func(t testing.TB, e *env) string { return "" },
			wantCode: http.StatusBadRequest, wantType: textPlain,
		},
		{
			name:     "missing empty line",
			body:     func(t testing.TB, e *env) string { return "old 0\n" + string(e.log.checkpoint(t, 100)) },
			wantCode: http.StatusBadRequest, wantType: textPlain,
		},
		{
			name: "bad base64", known: []uint64{100},
			body: func(t testing.TB, e *env) string {
				return "old 100\n%%%%\n\n" + string(e.log.checkpoint(t, 300))
			},
			wantCode: http.StatusBadRequest, wantType: textPlain,
		},
		{
			name: "just over the size limit",
			body: func(t testing.TB, e *env) string {
				return "old 0\n\n" + strings.Repeat("x", maxRequestSize)
			},
			wantCode: http.StatusBadRequest, wantType: textPlain,
			wantBody: "request body is larger than 65536 bytes\n",
		},
		{
			name: "huge body",
			body: func(t testing.TB, e *env) string {
				return requestBody(t, 0, nil, e.log.checkpoint(t, 100)) + strings.Repeat("— x AAAAAAAAAA\n", 1<<16)
			},
			wantCode: http.StatusBadRequest, wantType: textPlain,
		},
		{
			name: "store failure", failing: true,
			body:     func(t testing.TB, e *env) string { return requestBody(t, 0, nil, e.log.checkpoint(t, 100)) },
			wantCode: http.StatusInternalServerError, wantType: textPlain, wantBody: "internal error\n",
		},
		{
			name: "GET", method: http.MethodGet,
			body:     func(t testing.TB, e *env) string { return "" },
			wantCode: http.StatusMethodNotAllowed,
		},
		{
			name: "other path", path: "/add-checkpoints",
			body:     func(t testing.TB, e *env) string { return requestBody(t, 0, nil, e.log.checkpoint(t, 100)) },
			wantCode: http.StatusNotFound,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.advance(t, tc.known...)
			if tc.failing {
				e.st.fail = errStoreDown
			}
			method, path := tc.method, tc.path
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = "/add-checkpoint"
			}
			body := tc.body(t, e)
			rec := httptest.NewRecorder()
			e.w.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
			res := rec.Result()
			got := rec.Body.String()
			if res.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d; body %q", res.StatusCode, tc.wantCode, got)
			}
			if ct := res.Header.Get("Content-Type"); tc.wantType != "" && ct != tc.wantType {
				t.Errorf("Content-Type %q, want %q", ct, tc.wantType)
			}
			if tc.wantBody != "" && got != tc.wantBody {
				t.Errorf("body %q, want %q", got, tc.wantBody)
			}
			if strings.Contains(got, errStoreDown.Error()) {
				t.Errorf("body %q reveals the internal error", got)
			}
			if tc.wantCode == http.StatusOK {
				req, err := parseAddCheckpoint([]byte(body))
				if err != nil {
					t.Fatal(err)
				}
				verifyCosignature(t, req.Checkpoint, []byte(got), e.key.verifier)
			} else if strings.HasPrefix(got, "—") || bytes.Contains([]byte(got), []byte("\n— ")) {
				t.Errorf("refusal %d carries a signature line: %q", tc.wantCode, got)
			}
		})
	}
}
