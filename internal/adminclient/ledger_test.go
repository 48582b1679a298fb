package adminclient_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
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
	"github.com/kith-dev/kith/internal/ledger"
)

func TestLedgerRoutes(t *testing.T) {
	// A leaf as audit.Marshal writes it: compact, HTML characters escaped.
	const event = `{"time":"2030-01-02T03:04:05Z","type":"entry.created","reason":"a \u003cb\u003e \u0026 c"}`
	indented := func(v any) string { // as the server encodes its replies
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name  string
		call  func(context.Context, *adminclient.Client) (any, error)
		reply string
		want  seen
		out   any
	}{
		{
			name:  "key",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.LedgerKey(ctx) },
			reply: `{"origin":"a.test/kith/ledger","verifier_key":"a.test/kith/ledger+01234567+AQ=="}`,
			want:  seen{Method: "GET", Path: "/v1/ledger/key", Query: url.Values{}},
			out:   &api.LedgerKey{Origin: "a.test/kith/ledger", VerifierKey: "a.test/kith/ledger+01234567+AQ=="},
		},
		{
			name: "checkpoint as served",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				b, err := c.Checkpoint(ctx)
				return string(b), err
			},
			reply: "a.test/kith/ledger\n3\nAAAA\n\n— a.test/kith/ledger sig\n",
			want:  seen{Method: "GET", Path: "/v1/ledger/checkpoint", Query: url.Values{}},
			out:   "a.test/kith/ledger\n3\nAAAA\n\n— a.test/kith/ledger sig\n",
		},
		{
			name:  "checkpoints",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.Checkpoints(ctx, 5, 2) },
			reply: `{"checkpoints":["a\n6\n","a\n7\n"]}`,
			want:  seen{Method: "GET", Path: "/v1/ledger/checkpoints", Query: url.Values{"after_size": {"5"}, "limit": {"2"}}},
			out:   &api.Checkpoints{Checkpoints: []string{"a\n6\n", "a\n7\n"}},
		},
		{
			name:  "checkpoints, default limit",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.Checkpoints(ctx, 0, 0) },
			reply: `{"checkpoints":[]}`,
			want:  seen{Method: "GET", Path: "/v1/ledger/checkpoints", Query: url.Values{"after_size": {"0"}}},
			out:   &api.Checkpoints{Checkpoints: []string{}},
		},
		{
			name:  "entries are compacted back to the leaf bytes",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.LedgerEntries(ctx, 3, 4) },
			reply: indented(api.LedgerEntries{Entries: []api.LedgerEntry{{Index: 3, Data: json.RawMessage(event), LeafHash: []byte{1, 2}}}}),
			want:  seen{Method: "GET", Path: "/v1/ledger/entries", Query: url.Values{"start": {"3"}, "end": {"4"}}},
			out:   &api.LedgerEntries{Entries: []api.LedgerEntry{{Index: 3, Data: json.RawMessage(event), LeafHash: []byte{1, 2}}}},
		},
		{
			name:  "inclusion proof",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.InclusionProof(ctx, 3, 10) },
			reply: `{"hashes":["AQ==","Ag=="]}`,
			want:  seen{Method: "GET", Path: "/v1/ledger/proof/inclusion", Query: url.Values{"index": {"3"}, "size": {"10"}}},
			out:   &api.Proof{Hashes: [][]byte{{1}, {2}}},
		},
		{
			name:  "consistency proof",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.ConsistencyProof(ctx, 3, 10) },
			reply: `{"hashes":[]}`,
			want:  seen{Method: "GET", Path: "/v1/ledger/proof/consistency", Query: url.Values{"from": {"3"}, "to": {"10"}}},
			out:   &api.Proof{Hashes: [][]byte{}},
		},
		{
			name:  "evidence entry is compacted back to the leaf bytes",
			call:  func(ctx context.Context, c *adminclient.Client) (any, error) { return c.Evidence(ctx, 7) },
			reply: indented(api.Evidence{Index: 7, Entry: json.RawMessage(event), Proof: [][]byte{{9}}, Checkpoint: "a\n8\n"}),
			want:  seen{Method: "GET", Path: "/v1/ledger/evidence/7", Query: url.Values{}},
			out:   &api.Evidence{Index: 7, Entry: json.RawMessage(event), Proof: [][]byte{{9}}, Checkpoint: "a\n8\n"},
		},
		{
			name: "list events by time",
			call: func(ctx context.Context, c *adminclient.Client) (any, error) {
				return c.ListEvents(ctx, adminclient.EventFilter{
					Since: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
					Until: time.Date(2030, 1, 2, 4, 0, 0, 500, time.FixedZone("", 3600)),
				})
			},
			reply: `{"events":[]}`,
			want: seen{Method: "GET", Path: "/v1/events", Query: url.Values{
				"since": {"2030-01-02T03:04:05Z"}, "until": {"2030-01-02T04:00:00.0000005+01:00"},
			}},
			out: &api.EventList{Events: []api.Event{}},
		},
	}
	ca := adminclienttest.NewCA(t, testTD)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got seen
			srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = seen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query()}
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

func TestCheckpointErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantNone    bool // errors.Is(err, ledger.ErrNoCheckpoint)
		wantText    string
	}{
		{
			name: "none yet", status: http.StatusNotFound, contentType: "application/problem+json",
			body:     `{"title":"Not Found","status":404,"detail":"the ledger has no checkpoint yet; retry in a second"}`,
			wantNone: true, wantText: "get checkpoint: 404 Not Found: the ledger has no checkpoint yet; retry in a second",
		},
		{
			name: "no such route", status: http.StatusNotFound, contentType: "text/plain", body: "404 page not found",
			wantText: "get checkpoint: server answered 404 Not Found (text/plain): 404 page not found",
		},
		{
			name: "server error", status: http.StatusInternalServerError, contentType: "application/problem+json",
			body:     `{"title":"Internal Server Error","status":500}`,
			wantText: "get checkpoint: 500 Internal Server Error",
		},
	}
	ca := adminclienttest.NewCA(t, testTD)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			_, err := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD).Checkpoint(t.Context())
			if err == nil || err.Error() != tt.wantText {
				t.Fatalf("error = %v, want %q", err, tt.wantText)
			}
			if got := errors.Is(err, ledger.ErrNoCheckpoint); got != tt.wantNone {
				t.Errorf("errors.Is(err, ErrNoCheckpoint) = %v, want %v", got, tt.wantNone)
			}
		})
	}
}

func TestExportEvents(t *testing.T) {
	const csv = "index,time,type\n0,2030-01-02T03:04:05Z,entry.created\n"
	tests := []struct {
		name     string
		filter   adminclient.EventFilter
		format   string
		handler  http.HandlerFunc
		dst      io.Writer // nil: a buffer
		wantURL  string
		wantOut  string
		wantErr  string
		wantProb bool
	}{
		{
			name:   "csv with filters",
			filter: adminclient.EventFilter{Type: "entry.created", Actor: "admin", Since: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC), Limit: 10},
			format: "csv",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/csv")
				_, _ = w.Write([]byte(csv))
			},
			wantURL: "/v1/events/export?actor=admin&format=csv&limit=10&since=2030-01-02T00%3A00%3A00Z&type=entry.created",
			wantOut: csv,
		},
		{
			name: "server default format",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte("{}\n{}\n"))
			},
			wantURL: "/v1/events/export",
			wantOut: "{}\n{}\n",
		},
		{
			name:   "refused",
			format: "xml",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"title":"Bad Request","status":400,"detail":"format must be jsonl or csv"}`))
			},
			wantURL:  "/v1/events/export?format=xml",
			wantErr:  "export events: 400 Bad Request: format must be jsonl or csv",
			wantProb: true,
		},
		{
			name: "cut off",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte("{}\n"))
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			},
			wantURL: "/v1/events/export",
			wantOut: "{}\n",
			wantErr: "export events: stream cut off",
		},
		{
			name: "write fails",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte("{}\n"))
			},
			dst:     failingWriter{},
			wantURL: "/v1/events/export",
			wantErr: "export events: write: disk full",
		},
	}
	ca := adminclienttest.NewCA(t, testTD)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotURL string
			srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotURL = r.URL.RequestURI()
				tt.handler(w, r)
			}))
			var buf bytes.Buffer
			dst := tt.dst
			if dst == nil {
				dst = &buf
			}
			err := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD).ExportEvents(t.Context(), tt.filter, tt.format, dst)
			if gotURL != tt.wantURL {
				t.Errorf("URL = %q, want %q", gotURL, tt.wantURL)
			}
			if got := buf.String(); got != tt.wantOut {
				t.Errorf("output = %q, want %q", got, tt.wantOut)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			if got := errors.As(err, new(*api.Problem)); got != tt.wantProb {
				t.Errorf("error is a problem: %v, want %v", got, tt.wantProb)
			}
		})
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
