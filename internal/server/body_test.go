package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/agentproto"
)

// bigJSON returns a reader of a well-formed JSON object of over size
// bytes, cut by no limit of its own.
func bigJSON(size int) io.Reader {
	return io.MultiReader(strings.NewReader(`{"spiffe_id": "`), strings.NewReader(strings.Repeat("a", size)), strings.NewReader(`"}`))
}

// TestBodyOverLimitIs413: every JSON (and form) body reader of the server
// answers a body over its limit with 413 and a problem body, whether the
// length is announced or the body is chunked, rather than 400 "unexpected
// EOF".
func TestBodyOverLimitIs413(t *testing.T) {
	ts := startServer(t, "example.org")
	admin := []string{
		"POST /v1/entries", "PUT /v1/entries/0123", "POST /v1/federations",
		"POST /v1/svids/x509", "POST /v1/svids/jwt", "POST /v1/agents/join-tokens",
		"POST /v1/clients", "POST /v1/clients/0123/secret", "POST /v1/clients/0123/keys", "POST /v1/policies",
	}
	type reqCase struct {
		name, method, path, ctype string
		size                      int
		header                    map[string]string
		problem                   bool // answered with application/problem+json
	}
	var cases []reqCase
	for _, rt := range admin {
		method, path, _ := strings.Cut(rt, " ")
		cases = append(cases, reqCase{name: rt, method: method, path: path, ctype: "application/json", size: maxBody,
			header: map[string]string{"Authorization": "Bearer " + ts.token}, problem: true})
	}
	cases = append(cases,
		reqCase{name: "agent attest", method: "POST", path: agentproto.AttestPath, ctype: "application/json", size: maxAgentBody,
			header: map[string]string{agentproto.ProtocolHeader: agentproto.ProtocolVersion}, problem: true},
		reqCase{name: "oauth token", method: "POST", path: "/oauth2/token", ctype: "application/x-www-form-urlencoded", size: 64 << 10},
	)
	for _, c := range cases {
		for _, chunked := range []bool{false, true} {
			name := c.name
			if chunked {
				name += "/chunked"
			}
			t.Run(name, func(t *testing.T) {
				var body io.Reader = bigJSON(c.size)
				if !chunked {
					b, _ := io.ReadAll(body)
					body = strings.NewReader(string(b))
				}
				req, err := http.NewRequest(c.method, "https://"+ts.Addr()+c.path, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", c.ctype)
				for k, v := range c.header {
					req.Header.Set(k, v)
				}
				resp, err := ts.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Fatalf("status %d (%s), want 413", resp.StatusCode, raw)
				}
				if !c.problem {
					return
				}
				var p api.Problem
				if err := json.Unmarshal(raw, &p); err != nil || p.Status != http.StatusRequestEntityTooLarge ||
					resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("problem %s (%v), type %q", raw, err, resp.Header.Get("Content-Type"))
				}
			})
		}
	}
}

// TestDecodeJSONLimit: a body of exactly maxBody bytes is read; one byte
// more is 413, announced or not.
func TestDecodeJSONLimit(t *testing.T) {
	body := func(n int) string { // a JSON object of exactly n bytes
		return `{"spiffe_id":"` + strings.Repeat("a", n-len(`{"spiffe_id":""}`)) + `"}`
	}
	for _, tc := range []struct {
		size     int
		announce bool
		status   int
	}{
		{maxBody, true, 0}, {maxBody, false, 0},
		{maxBody + 1, true, http.StatusRequestEntityTooLarge}, {maxBody + 1, false, http.StatusRequestEntityTooLarge},
	} {
		r, _ := http.NewRequest("POST", "/", io.MultiReader(strings.NewReader(body(tc.size))))
		if tc.announce {
			r.ContentLength = int64(tc.size)
		}
		var v api.Entry
		err := decodeJSON(r, &v)
		var pe *problemError
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("%d bytes: %v", tc.size, err)
		case tc.status != 0 && (!errors.As(err, &pe) || pe.status != tc.status):
			t.Errorf("%d bytes (announced %v): %v, want %d", tc.size, tc.announce, err, tc.status)
		}
	}
}
