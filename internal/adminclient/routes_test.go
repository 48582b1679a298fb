package adminclient_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/adminclient/adminclienttest"
)

// seen is what the test server saw of a request.
type seen struct {
	Method      string
	Path        string // escaped
	Query       url.Values
	Body        string // JSON re-encoded compactly; empty for none
	ContentType string
}

func TestRoutes(t *testing.T) {
	entry := api.Entry{
		ID: "e1", SPIFFEID: "spiffe://example.org/web", Selectors: []string{"unix:uid:1000"},
		X509SVIDTTL: api.Duration(time.Hour), Labels: map[string]string{"env": "prod"}, Revision: 3,
	}
	fed := api.Federation{TrustDomain: "partner.example", BundleEndpointURL: "https://partner.example/bundle", Profile: "https_web", Sequence: 7}
	tests := []struct {
		name  string
		call  func(context.Context, *adminclient.Client) (any, error)
		reply string // JSON body of a 2xx reply
		code  int    // reply status; 0 means 200
		want  seen
		out   any // wanted result
	}{
		{
			name: "create entry",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.CreateEntry(ctx, api.Entry{SPIFFEID: "spiffe://example.org/web", Selectors: []string{"unix:uid:1000"}})
			},
			reply: mustJSON(t, entry), code: http.StatusCreated,
			want: seen{Method: "POST", Path: "/v1/entries", Query: url.Values{}, ContentType: "application/json",
				Body: `{"spiffe_id":"spiffe://example.org/web","selectors":["unix:uid:1000"]}`},
			out: &entry,
		},
		{
			name:  "get entry escapes the id",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.GetEntry(ctx, "a/b c") },
			reply: mustJSON(t, entry),
			want:  seen{Method: "GET", Path: "/v1/entries/a%2Fb%20c", Query: url.Values{}},
			out:   &entry,
		},
		{
			name: "list entries with filter",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.ListEntries(ctx, adminclient.EntryFilter{SPIFFEID: "spiffe://example.org/web", ParentID: "spiffe://example.org/agent", Status: "active", After: "e0", Limit: 5})
			},
			reply: `{"entries":[` + mustJSON(t, entry) + `],"next":"e1"}`,
			want: seen{Method: "GET", Path: "/v1/entries", Query: url.Values{
				"spiffe_id": {"spiffe://example.org/web"}, "parent_id": {"spiffe://example.org/agent"},
				"status": {"active"}, "after": {"e0"}, "limit": {"5"},
			}},
			out: &api.EntryList{Entries: []api.Entry{entry}, Next: "e1"},
		},
		{
			name: "list entries without filter",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.ListEntries(ctx, adminclient.EntryFilter{})
			},
			reply: `{"entries":[]}`,
			want:  seen{Method: "GET", Path: "/v1/entries", Query: url.Values{}},
			out:   &api.EntryList{Entries: []api.Entry{}},
		},
		{
			name:  "update entry",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.UpdateEntry(ctx, entry) },
			reply: mustJSON(t, entry),
			want:  seen{Method: "PUT", Path: "/v1/entries/e1", Query: url.Values{}, ContentType: "application/json", Body: mustJSON(t, entry)},
			out:   &entry,
		},
		{
			name: "delete entry",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) { return nil, c.DeleteEntry(ctx, "e1") },
			code: http.StatusNoContent,
			want: seen{Method: "DELETE", Path: "/v1/entries/e1", Query: url.Values{}},
		},
		{
			name: "check secret",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.CheckSecret(ctx, api.SecretCheck{Secret: "kith_sk_x", Location: "a.env:3", Commit: "abc123", Places: 2, Revoke: true})
			},
			reply: `{"known":true,"client_id":"ci_1","live":true,"revoked":true}`,
			want: seen{Method: "POST", Path: "/v1/clients/secret-check", Query: url.Values{}, ContentType: "application/json",
				Body: `{"secret":"kith_sk_x","location":"a.env:3","commit":"abc123","places":2,"revoke":true}`},
			out: &api.SecretCheckResult{Known: true, ClientID: "ci_1", Live: true, Revoked: true},
		},
		{
			name: "bundle",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				b, err := c.Bundle(ctx)
				return string(b), err
			},
			reply: `{"keys":[]}`,
			want:  seen{Method: "GET", Path: "/v1/bundle", Query: url.Values{}},
			out:   `{"keys":[]}`,
		},
		{
			name:  "list federations",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.ListFederations(ctx) },
			reply: `{"federations":[` + mustJSON(t, fed) + `]}`,
			want:  seen{Method: "GET", Path: "/v1/federations", Query: url.Values{}},
			out:   &api.FederationList{Federations: []api.Federation{fed}},
		},
		{
			name: "add federation",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.AddFederation(ctx, api.FederationCreate{TrustDomain: "partner.example", BundleEndpointURL: "https://partner.example/bundle", Profile: "https_web"})
			},
			reply: mustJSON(t, fed), code: http.StatusCreated,
			want: seen{Method: "POST", Path: "/v1/federations", Query: url.Values{}, ContentType: "application/json",
				Body: `{"trust_domain":"partner.example","bundle_endpoint_url":"https://partner.example/bundle","profile":"https_web"}`},
			out: &fed,
		},
		{
			name: "get federation",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.GetFederation(ctx, "partner.example")
			},
			reply: mustJSON(t, fed),
			want:  seen{Method: "GET", Path: "/v1/federations/partner.example", Query: url.Values{}},
			out:   &fed,
		},
		{
			name: "remove federation",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return nil, c.RemoveFederation(ctx, "partner.example")
			},
			code: http.StatusNoContent,
			want: seen{Method: "DELETE", Path: "/v1/federations/partner.example", Query: url.Values{}},
		},
		{
			name: "refresh federation",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.RefreshFederation(ctx, "partner.example")
			},
			reply: mustJSON(t, fed),
			want:  seen{Method: "POST", Path: "/v1/federations/partner.example/refresh", Query: url.Values{}},
			out:   &fed,
		},
		{
			name: "mint x509 svid",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.MintX509SVID(ctx, api.X509SVIDMint{SPIFFEID: "spiffe://example.org/web", CSR: []byte{1, 2, 3}, TTL: api.Duration(time.Hour)})
			},
			reply: `{"spiffe_id":"spiffe://example.org/web","certificates":["AQI="],"serial_number":"ab","expires_at":"2030-01-02T03:04:05Z"}`,
			want: seen{Method: "POST", Path: "/v1/svids/x509", Query: url.Values{}, ContentType: "application/json",
				Body: `{"spiffe_id":"spiffe://example.org/web","csr":"AQID","ttl":"1h0m0s"}`},
			out: &api.X509SVID{SPIFFEID: "spiffe://example.org/web", Certificates: [][]byte{{1, 2}}, SerialNumber: "ab", ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		},
		{
			name: "mint jwt svid",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.MintJWTSVID(ctx, api.JWTSVIDMint{SPIFFEID: "spiffe://example.org/web", Audience: []string{"a", "b"}})
			},
			reply: `{"spiffe_id":"spiffe://example.org/web","token":"x.y.z","expires_at":"2030-01-02T03:04:05Z"}`,
			want: seen{Method: "POST", Path: "/v1/svids/jwt", Query: url.Values{}, ContentType: "application/json",
				Body: `{"spiffe_id":"spiffe://example.org/web","audience":["a","b"]}`},
			out: &api.JWTSVID{SPIFFEID: "spiffe://example.org/web", Token: "x.y.z", ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		},
		{
			name: "list events",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.ListEvents(ctx, adminclient.EventFilter{Type: "entry.created", Actor: "admin", Target: "e1", Outcome: "success", After: "0", Limit: 2})
			},
			reply: `{"events":[{"index":1,"event":{"type":"entry.created"}}]}`,
			want: seen{Method: "GET", Path: "/v1/events", Query: url.Values{
				"type": {"entry.created"}, "actor": {"admin"}, "target": {"e1"}, "outcome": {"success"}, "after": {"0"}, "limit": {"2"},
			}},
			out: &api.EventList{Events: []api.Event{{Index: 1, Event: json.RawMessage(`{"type":"entry.created"}`)}}},
		},
		{
			name:  "health",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return nil, c.Health(ctx) },
			reply: "ok\n",
			want:  seen{Method: "GET", Path: "/healthz", Query: url.Values{}},
		},
	}
	ca := adminclienttest.NewCA(t, testTD)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got seen
			srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = seen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Body: compact(t, b), ContentType: r.Header.Get("Content-Type")}
				if tt.code != 0 {
					w.WriteHeader(tt.code)
				}
				_, _ = w.Write([]byte(tt.reply))
			}))
			out, err := tt.call(t.Context(), newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.out, out); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmptyIDsRefused(t *testing.T) {
	ca := adminclienttest.NewCA(t, testTD)
	srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("request sent for an empty ID")
	}))
	c := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD)
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"get entry", func() error { _, err := c.GetEntry(ctx, ""); return err }},
		{"update entry", func() error { _, err := c.UpdateEntry(ctx, api.Entry{}); return err }},
		{"delete entry", func() error { return c.DeleteEntry(ctx, "") }},
		{"get federation", func() error { _, err := c.GetFederation(ctx, ""); return err }},
		{"remove federation", func() error { return c.RemoveFederation(ctx, "") }},
		{"refresh federation", func() error { _, err := c.RefreshFederation(ctx, ""); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil || !strings.Contains(err.Error(), "is empty") {
				t.Errorf("error = %v, want an empty-ID error", err)
			}
		})
	}
}

func TestListAllEntries(t *testing.T) {
	pages := map[string]string{
		"":   `{"entries":[{"id":"a","spiffe_id":"spiffe://example.org/a","selectors":[]}],"next":"a"}`,
		"a":  `{"entries":[{"id":"b","spiffe_id":"spiffe://example.org/b","selectors":[]}],"next":"b"}`,
		"b":  `{"entries":[{"id":"c","spiffe_id":"spiffe://example.org/c","selectors":[]}]}`,
		"x":  `{"entries":[],"next":"y"}`,
		"y":  `{"entries":[],"next":"x"}`,
		"zz": `oops`,
	}
	ca := adminclienttest.NewCA(t, testTD)
	srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(pages[r.URL.Query().Get("after")]))
	}))
	c := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD)

	tests := []struct {
		name    string
		after   string
		wantIDs []string
		wantErr string
	}{
		{name: "three pages", wantIDs: []string{"a", "b", "c"}},
		{name: "from a cursor", after: "a", wantIDs: []string{"b", "c"}},
		{name: "cursor loop", after: "x", wantErr: "repeated cursor"},
		{name: "bad page", after: "zz", wantErr: "decode reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ListAllEntries(t.Context(), adminclient.EntryFilter{After: tt.after})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("IDs (-want +got):\n%s", diff)
			}
		})
	}
}

// mustJSON returns the JSON encoding of v.
func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// compact returns b compacted if it is JSON, else as is.
func compact(tb testing.TB, b []byte) string {
	tb.Helper()
	if len(b) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}
