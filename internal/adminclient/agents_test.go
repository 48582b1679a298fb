package adminclient_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/adminclient/adminclienttest"
)

func TestAgentRoutes(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	agent := api.Agent{ID: "a1", SPIFFEID: "spiffe://example.org/kith/agent/a1", Status: "active", CreatedAt: exp}
	entry := api.Entry{ID: "e/1", SPIFFEID: "spiffe://example.org/web", Selectors: []string{"unix:uid:1"}, Status: "quarantined"}
	revocation := api.EntryRevocation{Entry: entry, RevokedAt: exp, ExpiresAt: exp.Add(time.Hour)}
	tests := []struct {
		name  string
		call  func(context.Context, *adminclient.Client) (any, error)
		reply string
		want  seen
		out   any
	}{
		{
			name: "create join token",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.CreateJoinToken(ctx, 2*time.Hour)
			},
			reply: `{"id":"t1","token":"kith_jt_x","expires_at":"2030-01-02T03:04:05Z"}`,
			want:  seen{Method: "POST", Path: "/v1/agents/join-tokens", Query: url.Values{}, ContentType: "application/json", Body: `{"ttl":"2h0m0s"}`},
			out:   &api.JoinToken{ID: "t1", Token: "kith_jt_x", ExpiresAt: exp},
		},
		{
			name: "list agents",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.ListAgents(ctx, adminclient.AgentFilter{After: "a0", Limit: 5})
			},
			reply: `{"agents":[` + mustJSON(t, agent) + `],"next":"a1"}`,
			want:  seen{Method: "GET", Path: "/v1/agents", Query: url.Values{"after": {"a0"}, "limit": {"5"}}},
			out:   &api.AgentList{Agents: []api.Agent{agent}, Next: "a1"},
		},
		{
			name:  "get agent escapes the id",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.GetAgent(ctx, "a/1") },
			reply: mustJSON(t, agent),
			want:  seen{Method: "GET", Path: "/v1/agents/a%2F1", Query: url.Values{}},
			out:   &agent,
		},
		{
			name:  "evict agent",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.EvictAgent(ctx, "a1") },
			reply: `{"agent":` + mustJSON(t, agent) + `,"revoked_svids":3}`,
			want:  seen{Method: "POST", Path: "/v1/agents/a1/evict", Query: url.Values{}},
			out:   &api.AgentEviction{Agent: agent, RevokedSVIDs: 3},
		},
		{
			name:  "revoke entry",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.RevokeEntry(ctx, "e/1") },
			reply: mustJSON(t, revocation),
			want:  seen{Method: "POST", Path: "/v1/entries/e%2F1/revoke", Query: url.Values{}},
			out:   &revocation,
		},
		{
			name:  "quarantine entry",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.QuarantineEntry(ctx, "e/1") },
			reply: mustJSON(t, revocation),
			want:  seen{Method: "POST", Path: "/v1/entries/e%2F1/quarantine", Query: url.Values{}},
			out:   &revocation,
		},
		{
			name:  "release entry",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.ReleaseEntry(ctx, "e/1") },
			reply: mustJSON(t, entry),
			want:  seen{Method: "POST", Path: "/v1/entries/e%2F1/release", Query: url.Values{}},
			out:   &entry,
		},
	}
	ca := adminclienttest.NewCA(t, testTD)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got seen
			srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = seen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Body: compact(t, b), ContentType: r.Header.Get("Content-Type")}
				_, _ = w.Write([]byte(tc.reply))
			}))
			out, err := tc.call(t.Context(), newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("request (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.out, out); d != "" {
				t.Errorf("result (-want +got):\n%s", d)
			}
		})
	}
}

func TestAgentCallsRefuseEmptyIDs(t *testing.T) {
	ca := adminclienttest.NewCA(t, testTD)
	srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("a call with an empty ID reached the server")
	}))
	c := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD)
	calls := map[string]func() error{
		"GetAgent":        func() error { _, err := c.GetAgent(t.Context(), ""); return err },
		"EvictAgent":      func() error { _, err := c.EvictAgent(t.Context(), ""); return err },
		"RevokeEntry":     func() error { _, err := c.RevokeEntry(t.Context(), ""); return err },
		"QuarantineEntry": func() error { _, err := c.QuarantineEntry(t.Context(), ""); return err },
		"ReleaseEntry":    func() error { _, err := c.ReleaseEntry(t.Context(), ""); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil || errors.As(err, new(*api.Problem)) {
			t.Errorf("%s(\"\"): %v, want a local error", name, err)
		}
	}
}
