package adminclient_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/adminclient/adminclienttest"
)

const (
	testTD     = "example.org"
	serverID   = "spiffe://example.org/kith/server"
	testSecret = "s3cret-admin-token-value"
)

// okHandler answers every request with 200 and an empty JSON object.
func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
	})
}

// authRecorder answers 200 "{}" and stores the Authorization header in got.
func authRecorder(got *string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*got = r.Header.Get("Authorization")
		_, _ = w.Write([]byte("{}"))
	})
}

// newClient returns a client of srv trusting roots and pinned to td.
func newClient(tb testing.TB, srv *httptest.Server, roots []*x509.Certificate, td string) *adminclient.Client {
	tb.Helper()
	c, err := adminclient.New(adminclient.Config{
		Addr:        srv.Listener.Addr().String(),
		Token:       adminclient.NewToken(testSecret),
		Roots:       roots,
		TrustDomain: td,
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

func TestServerAuthentication(t *testing.T) {
	ca := adminclienttest.NewCA(t, testTD)
	otherCA := adminclienttest.NewCA(t, "other.org")
	tests := []struct {
		name     string
		serverCA *adminclienttest.CA
		serverID string
		roots    *adminclienttest.CA
		td       string
		wantErr  string // substring; empty for success
	}{
		{name: "pinned trust domain", serverCA: ca, serverID: serverID, roots: ca, td: testTD},
		{name: "any trust domain", serverCA: ca, serverID: serverID, roots: ca},
		{name: "any trust domain, other domain", serverCA: otherCA, serverID: "spiffe://other.org/kith/server", roots: otherCA},
		{name: "wrong path", serverCA: ca, serverID: "spiffe://example.org/kith/agent", roots: ca, td: testTD, wantErr: `presented "spiffe://example.org/kith/agent"`},
		{name: "wrong path, any trust domain", serverCA: ca, serverID: "spiffe://example.org/workload", roots: ca, wantErr: "want spiffe://<trust domain>/kith/server"},
		{name: "path prefix only", serverCA: ca, serverID: "spiffe://example.org/kith/server/x", roots: ca, wantErr: "want spiffe://<trust domain>/kith/server"},
		{name: "wrong trust domain", serverCA: otherCA, serverID: "spiffe://other.org/kith/server", roots: otherCA, td: testTD, wantErr: `server certificate is for trust domain "other.org", want "example.org"`},
		{name: "wrong roots", serverCA: otherCA, serverID: serverID, roots: ca, td: testTD, wantErr: "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := adminclienttest.NewTLSServer(t, tt.serverCA, tt.serverID, okHandler())
			c := newClient(t, srv, []*x509.Certificate{tt.roots.Cert}, tt.td)
			_, err := c.ListFederations(t.Context())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ListFederations: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ListFederations error = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestAuthorizationHeader(t *testing.T) {
	tests := []struct {
		name string
		call func(context.Context, *adminclient.Client) error
		want string
	}{
		{
			name: "admin route",
			call: func(ctx context.Context, c *adminclient.Client) error { _, err := c.Bundle(ctx); return err },
			want: "Bearer " + testSecret,
		},
		{
			name: "public route",
			call: func(ctx context.Context, c *adminclient.Client) error { return c.Health(ctx) },
			want: "",
		},
	}
	ca := adminclienttest.NewCA(t, testTD)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			srv := adminclienttest.NewTLSServer(t, ca, serverID, authRecorder(&got))
			if err := tt.call(t.Context(), newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD)); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Authorization = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorReplies(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantProblem *api.Problem // nil: want a *StatusError
		wantText    string
	}{
		{
			name:        "problem",
			status:      http.StatusConflict,
			contentType: "application/problem+json",
			body:        `{"type":"about:blank","title":"Conflict","status":409,"detail":"revision 3 is stale","field":"revision"}`,
			wantProblem: &api.Problem{Type: "about:blank", Title: "Conflict", Status: 409, Detail: "revision 3 is stale", Field: "revision"},
			wantText:    "get entry e1: 409 Conflict: revision 3 is stale",
		},
		{
			name:        "problem without status",
			status:      http.StatusNotFound,
			contentType: "application/problem+json; charset=utf-8",
			body:        `{"title":"Not Found"}`,
			wantProblem: &api.Problem{Title: "Not Found", Status: 404},
			wantText:    "get entry e1: 404 Not Found",
		},
		{
			name:        "html error page",
			status:      http.StatusBadGateway,
			contentType: "text/html",
			body:        "<html>\n<h1>Bad gateway</h1></html>",
			wantText:    "get entry e1: server answered 502 Bad Gateway (text/html): <html> <h1>Bad gateway</h1></html>",
		},
		{
			name:        "json without title",
			status:      http.StatusInternalServerError,
			contentType: "application/json",
			body:        `{"error":"boom"}`,
			wantText:    `get entry e1: server answered 500 Internal Server Error (application/json): {"error":"boom"}`,
		},
		{
			name:     "empty body",
			status:   http.StatusUnauthorized,
			wantText: "get entry e1: server answered 401 Unauthorized",
		},
	}
	ca := adminclienttest.NewCA(t, testTD)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			_, err := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD).GetEntry(t.Context(), "e1")
			if err == nil {
				t.Fatal("GetEntry succeeded, want an error")
			}
			if got := err.Error(); got != tt.wantText {
				t.Errorf("error text = %q, want %q", got, tt.wantText)
			}
			var p *api.Problem
			if tt.wantProblem != nil {
				if !errors.As(err, &p) {
					t.Fatalf("error %v is not a *api.Problem", err)
				}
				if *p != *tt.wantProblem {
					t.Errorf("problem = %+v, want %+v", *p, *tt.wantProblem)
				}
				return
			}
			var se *adminclient.StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.status {
				t.Errorf("error %v is not a *StatusError with status %d", err, tt.status)
			}
			if errors.As(err, &p) {
				t.Errorf("error %v is also a *api.Problem", err)
			}
		})
	}
}

func TestReplySizeCap(t *testing.T) {
	ca := adminclienttest.NewCA(t, testTD)
	srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"keys":["`))
		_, _ = w.Write([]byte(strings.Repeat("a", 9<<20)))
		_, _ = w.Write([]byte(`"]}`))
	}))
	_, err := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD).Bundle(t.Context())
	if err == nil || !strings.Contains(err.Error(), "reply larger than") {
		t.Fatalf("Bundle error = %v, want a size error", err)
	}
}

func TestNewValidation(t *testing.T) {
	ca := adminclienttest.NewCA(t, testTD)
	roots := []*x509.Certificate{ca.Cert}
	tok := adminclient.NewToken(testSecret)
	tests := []struct {
		name    string
		cfg     adminclient.Config
		wantErr string
	}{
		{name: "defaults", cfg: adminclient.Config{Token: tok, Roots: roots}},
		{name: "http client replaces roots", cfg: adminclient.Config{Token: tok, HTTPClient: http.DefaultClient}},
		{name: "no token", cfg: adminclient.Config{Roots: roots}, wantErr: "Token is required"},
		{name: "no roots", cfg: adminclient.Config{Token: tok}, wantErr: "no trust anchors"},
		{name: "bad addr", cfg: adminclient.Config{Token: tok, Roots: roots, Addr: "x"}, wantErr: "not host:port"},
		{name: "addr as a URL", cfg: adminclient.Config{Token: tok, Roots: roots, Addr: "https://kith.example.org:8443/"}},
		{name: "addr as a URL without a port", cfg: adminclient.Config{Token: tok, Roots: roots, Addr: "https://kith.example.org"}},
		{name: "addr as an IPv6 URL", cfg: adminclient.Config{Token: tok, Roots: roots, Addr: "https://[::1]:8443"}},
		{name: "addr over http", cfg: adminclient.Config{Token: tok, Roots: roots, Addr: "http://x:8443"}, wantErr: "served over https"},
		{name: "addr URL with a path", cfg: adminclient.Config{Token: tok, Roots: roots, Addr: "https://x:8443/v1"}, wantErr: "not host:port"},
		{name: "bad trust domain", cfg: adminclient.Config{Token: tok, Roots: roots, TrustDomain: "Example Org"}, wantErr: "trust domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := adminclient.New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
