package adminclient_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/adminclient/adminclienttest"
)

func TestPolicyRoutes(t *testing.T) {
	doc := json.RawMessage(`{"name":"orders","target":"spiffe://example.org/orders","rules":[]}`)
	result := api.PolicyApplyResult{Revision: 2, Changes: []api.PolicyChange{{Name: "orders", Kind: "created"}}}
	tests := []struct {
		name  string
		call  func(context.Context, *adminclient.Client) (any, error)
		reply string
		want  seen
		out   any
	}{
		{
			name:  "get policies",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.GetPolicies(ctx) },
			reply: `{"revision":2,"policies":[` + string(doc) + `]}`,
			want:  seen{Method: "GET", Path: "/v1/policies", Query: map[string][]string{}},
			out:   &api.PolicySet{Revision: 2, Policies: []json.RawMessage{doc}},
		},
		{
			name:  "get policy escapes the name",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.GetPolicy(ctx, "a b") },
			reply: `{"revision":2,"policy":` + string(doc) + `}`,
			want:  seen{Method: "GET", Path: "/v1/policies/a%20b", Query: map[string][]string{}},
			out:   &api.Policy{Revision: 2, Policy: doc},
		},
		{
			name: "apply policies",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.ApplyPolicies(ctx, []json.RawMessage{doc})
			},
			reply: mustJSON(t, result),
			want: seen{Method: "POST", Path: "/v1/policies", Query: map[string][]string{}, ContentType: "application/json",
				Body: `{"policies":[` + string(doc) + `]}`},
			out: &result,
		},
		{
			name:  "delete policy",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.DeletePolicy(ctx, "orders") },
			reply: mustJSON(t, result),
			want:  seen{Method: "DELETE", Path: "/v1/policies/orders", Query: map[string][]string{}},
			out:   &result,
		},
	}
	ca := adminclienttest.NewCA(t, testTD)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got seen
			srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = seen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Body: compact(t, b), ContentType: r.Header.Get("Content-Type")}
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

func TestPolicyNamesRequired(t *testing.T) {
	ca := adminclienttest.NewCA(t, testTD)
	srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("request sent for an empty name")
	}))
	c := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD)
	if _, err := c.GetPolicy(t.Context(), ""); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("GetPolicy(\"\"): %v, want an empty-name error", err)
	}
	if _, err := c.DeletePolicy(t.Context(), ""); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("DeletePolicy(\"\"): %v, want an empty-name error", err)
	}
}
