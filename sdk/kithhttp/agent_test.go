package kithhttp_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/agent"
	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/dataplane"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy/proxytest"
	"github.com/kith-dev/kith/sdk/kithhttp"
)

// telemetrySink holds the call records a fake agent received.
type telemetrySink struct {
	mu      sync.Mutex
	records []callrecord.Record
}

func (s *telemetrySink) all() []callrecord.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// fakeAgent serves the data-plane feed on a Unix socket as the agent
// does: msg, then silence until the reader hangs up; and takes call
// records as the agent does. It returns the socket's path and the
// records received.
func fakeAgent(t testing.TB, msg *dataplane.FeedMessage) (string, *telemetrySink) {
	t.Helper()
	// Unix socket paths are short; t.TempDir's may not be.
	dir, err := os.MkdirTemp("", "kithhttp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "dp.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+dataplane.FeedPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", dataplane.FeedContentType)
		if err := json.NewEncoder(w).Encode(msg); err != nil {
			return
		}
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	sink := &telemetrySink{}
	mux.HandleFunc("POST "+dataplane.TelemetryPath, func(w http.ResponseWriter, r *http.Request) {
		var batch []callrecord.Record
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sink.mu.Lock()
		sink.records = append(sink.records, batch...)
		sink.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return path, sink
}

// fullMessage is the agent's full state for env: the own bundle, the
// token keys and issuer, and policies as revision 1.
func fullMessage(t testing.TB, env *proxytest.Env, policies ...policy.Document) *dataplane.FeedMessage {
	t.Helper()
	bundle, err := env.OwnCA.Bundle().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := json.Marshal(jose.JSONWebKeySet(env.Keys()))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := json.Marshal(policies)
	if err != nil {
		t.Fatal(err)
	}
	set, err := json.Marshal(dataplane.PolicySet{Revision: 1, Documents: docs})
	if err != nil {
		t.Fatal(err)
	}
	return &dataplane.FeedMessage{Version: 1, Full: true, TrustDomain: proxytest.Own.Name(),
		Bundles: map[string]json.RawMessage{proxytest.Own.Name(): bundle}, Policies: set,
		TokenKeys: keys, Issuer: proxytest.Issuer}
}

// TestFromAgent builds the middleware from a fake agent's feed and wants
// it to enforce with what the feed carried: the bundle (certificates),
// the policies (decisions), the token keys and issuer (tokens).
func TestFromAgent(t *testing.T) {
	doc := policy.Document{Name: "p", Target: target.String(), Rules: []policy.Rule{
		{From: policy.From{SPIFFEIDs: []string{orders.String()}}, To: policy.To{Paths: []string{"/api/*"}}, Action: policy.ActionAllow},
		{From: policy.From{SPIFFEIDs: []string{orders.String()}}, To: policy.To{Paths: []string{"/r"}}, Action: policy.ActionRestrict, Scopes: []string{"read"}},
	}}
	env := proxytest.New(t) // the middleware must not see env's own view fakes
	socket, sink := fakeAgent(t, fullMessage(t, env, doc))

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	mw, feed, err := kithhttp.FromAgent(ctx, kithhttp.AgentConfig{DataPlaneSocket: socket, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	closeFeed := func() {
		if closed {
			return
		}
		closed = true
		if err := feed.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	t.Cleanup(closeFeed)

	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := kithhttp.CallerFromContext(r.Context())
		if !ok {
			t.Error("no caller in the context of an allowed call")
		}
		io.WriteString(w, c.SPIFFEID.String()+" "+c.Decision+" "+strings.Join(c.Scopes, ","))
	})
	srv := newTLSServer(t, mw.Handler(app), env.SVID(target))

	tok := func(scope string) string {
		return env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci", Scope: scope}, target.String(), proxytest.SignGood)
	}
	tests := []struct {
		name  string
		svid  *x509svid.SVID
		path  string
		token string
		want  string // the start of the answer
	}{
		{"allowed", env.SVID(orders), "/api/a", "", "200 OK spiffe://example.org/orders allow"},
		{"default deny", env.SVID(other), "/api/a", "", "403 Forbidden"},
		{"not in policy", env.SVID(orders), "/elsewhere", "", "403 Forbidden"},
		{"no certificate", nil, "/api/a", "", "401 Unauthorized"},
		{"untrusted", env.SVID(evil), "/api/a", "", "401 Unauthorized"},
		{"token", env.SVID(orders), "/r", tok("read write"), "200 OK spiffe://example.org/orders restrict read"},
		{"bad token", env.SVID(orders), "/api/a", "garbage", "401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tlsconfig.TLSClientConfig(env.Bundles, tlsconfig.AuthorizeID(target))
			if tt.svid != nil {
				c = tlsconfig.MTLSClientConfig(tt.svid, env.Bundles, tlsconfig.AuthorizeID(target))
			}
			tr := &http.Transport{TLSClientConfig: c}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := resp.Status + " " + strings.TrimSpace(string(b)); !strings.HasPrefix(got, tt.want) {
				t.Errorf("answered %q, want %q…", got, tt.want)
			}
		})
	}

	// Every call, allowed or refused, went back to the agent as a call
	// record once the feed closed (Close sends what is queued).
	closeFeed()
	var got []string
	for _, rec := range sink.all() {
		got = append(got, fmt.Sprintf("%s %d %s %s", rec.Path, rec.Status, rec.Decision, rec.Caller))
	}
	want := []string{
		"/api/a 200 allow spiffe://example.org/orders",
		"/api/a 403 deny spiffe://example.org/other",
		"/elsewhere 403 deny spiffe://example.org/orders",
		"/api/a 401 refused ",
		"/api/a 401 refused ",
		"/r 200 restrict spiffe://example.org/orders",
		"/api/a 401 refused spiffe://example.org/orders",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("call records (-want +got):\n%s", d)
	}
}

// TestFromAgentNoAgent wants FromAgent to give up when ctx is done
// before the agent answered, with ctx's error and no goroutine left.
func TestFromAgentNoAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, _, err := kithhttp.FromAgent(ctx, kithhttp.AgentConfig{
		DataPlaneSocket: filepath.Join(t.TempDir(), "absent.sock"), Target: target})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("FromAgent without an agent: %v, want context.DeadlineExceeded", err)
	}
}

func TestFromAgentConfig(t *testing.T) {
	if _, _, err := kithhttp.FromAgent(t.Context(), kithhttp.AgentConfig{}); err == nil {
		t.Error("FromAgent without Target: no error")
	}
	if want := filepath.Join(agent.DefaultDataDir, "private", "dataplane.sock"); kithhttp.DefaultDataPlaneSocket != want {
		t.Errorf("DefaultDataPlaneSocket = %q, the agent's default is %q", kithhttp.DefaultDataPlaneSocket, want)
	}
}

// newTLSServer serves h over TLS with svid, asking for client
// certificates without verifying them, as the middleware needs.
func newTLSServer(t testing.TB, h http.Handler, svid *x509svid.SVID) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = tlsconfig.TLSServerConfig(svid)
	srv.TLS.ClientAuth = tls.RequestClientCert
	cert := tls.Certificate{PrivateKey: svid.PrivateKey}
	for _, c := range svid.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	srv.TLS.Certificates = []tls.Certificate{cert} // httptest ignores GetCertificate
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}
