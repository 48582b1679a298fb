package agent

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/ca"
)

func mustTD(tb testing.TB, s string) spiffeid.TrustDomain {
	tb.Helper()
	td, err := spiffeid.TrustDomainFromString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return td
}

// fakeServer speaks the agent side of /agent/v1 as package agentproto
// documents it, with a real CA, an in-memory registry and revocation set,
// and switches for tests: evict an agent, stop and restart, fall silent.
type fakeServer struct {
	tb      testing.TB
	td      spiffeid.TrustDomain
	ca      *ca.CA
	clock   *testClock
	handler http.Handler
	changes *broadcaster
	synced  *broadcaster // notified at each sync request logged

	mu          sync.Mutex
	srv         *httptest.Server
	addr        string
	heartbeat   time.Duration
	silent      bool // stop sending heartbeats
	tokens      map[string]bool
	agentSeq    int
	evicted     map[spiffeid.ID]bool
	revision    int64
	compacted   int64 // revisions at or below cannot be resumed from
	entries     map[string]agentproto.Entry
	tombstones  map[string]int64 // deleted entry → revision
	revocations []agentproto.Revocation
	federated   map[string]json.RawMessage
	fedRevision map[string]int64
	syncs       []syncRecord
	minted      int
}

// syncRecord is what the fake saw of one sync request.
type syncRecord struct {
	agent                 spiffeid.ID
	revision, revocations int64
	full                  bool
	entries               int
}

func newFakeServer(tb testing.TB, clock *testClock) *fakeServer {
	tb.Helper()
	if _, ok := tb.(*testing.T); ok {
		checkLeaks(tb)
	}
	td := mustTD(tb, "example.org")
	fs := &fakeServer{tb: tb, td: td, ca: newTestCA(tb, td.Name(), clock), clock: clock,
		changes: newBroadcaster(), synced: newBroadcaster(), heartbeat: 200 * time.Millisecond,
		tokens: map[string]bool{}, evicted: map[spiffeid.ID]bool{}, entries: map[string]agentproto.Entry{},
		tombstones: map[string]int64{}, federated: map[string]json.RawMessage{}, fedRevision: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /agent/v1/attest", fs.attest)
	mux.HandleFunc("POST /agent/v1/renew", fs.renew)
	mux.HandleFunc("POST /agent/v1/svids/x509", fs.mintX509)
	mux.HandleFunc("POST /agent/v1/svids/jwt", fs.mintJWT)
	mux.HandleFunc("GET /agent/v1/sync", fs.sync)
	fs.handler = mux
	fs.start("127.0.0.1:0")
	tb.Cleanup(fs.stop)
	return fs
}

// start serves on addr with the server's X509-SVID.
func (fs *fakeServer) start(addr string) {
	var l net.Listener
	var err error
	// The port of a stopped server may linger briefly.
	if !await.Poll(2*time.Second, func() bool { l, err = net.Listen("tcp", addr); return err == nil }) {
		fs.tb.Fatalf("listen: %v", err)
	}
	srv := httptest.NewUnstartedServer(fs.handler)
	srv.Listener.Close()
	srv.Listener = l
	srv.EnableHTTP2 = true
	cert, err := fs.serverCert()
	if err != nil {
		fs.tb.Fatalf("server certificate: %v", err)
	}
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, Certificates: []tls.Certificate{*cert}, NextProtos: []string{"h2"}}
	srv.StartTLS()
	fs.mu.Lock()
	fs.srv, fs.addr = srv, l.Addr().String()
	fs.mu.Unlock()
}

// stop closes the server and every connection, as a crash would.
func (fs *fakeServer) stop() {
	fs.mu.Lock()
	srv := fs.srv
	fs.srv = nil
	fs.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// restart starts the server again on its old address.
func (fs *fakeServer) restart() { fs.start(fs.addr) }

func (fs *fakeServer) URL() string { return "https://" + fs.addr }

func (fs *fakeServer) serverCert() (*tls.Certificate, error) {
	key, csr, err := newKey()
	if err != nil {
		return nil, err
	}
	svid, err := fs.ca.MintX509SVID(context.Background(), ca.X509Params{CSR: csr, SPIFFEID: spiffeid.RequireFromPath(fs.td, "/kith/server")})
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{PrivateKey: key, Leaf: svid.Certificates[0]}
	for _, cert := range svid.Certificates {
		c.Certificate = append(c.Certificate, cert.Raw)
	}
	return c, nil
}

// bundle is the CA's bundle.
func (fs *fakeServer) bundle() *spiffebundle.Bundle { return fs.ca.Bundle() }

func (fs *fakeServer) bundleJSON() json.RawMessage {
	data, err := fs.bundle().Marshal()
	if err != nil {
		fs.tb.Fatal(err)
	}
	return data
}

func (fs *fakeServer) newJoinToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	fs.mu.Lock()
	fs.tokens[tok] = true
	fs.mu.Unlock()
	return tok
}

// problem writes an RFC 9457 problem document.
func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// agentOf authenticates the caller's X509-SVID as an agent that is not
// evicted; it writes the refusal and returns false otherwise.
func (fs *fakeServer) agentOf(w http.ResponseWriter, r *http.Request) (spiffeid.ID, bool) {
	if r.Header.Get(agentproto.ProtocolHeader) != agentproto.ProtocolVersion {
		problem(w, http.StatusBadRequest, "unsupported protocol")
		return spiffeid.ID{}, false
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		problem(w, http.StatusUnauthorized, "client certificate required")
		return spiffeid.ID{}, false
	}
	id, _, err := x509svid.Verify(r.TLS.PeerCertificates, fs.bundle(), x509svid.WithTime(fs.clock.Now()))
	if err != nil || !strings.HasPrefix(id.Path(), agentPathPrefix) {
		problem(w, http.StatusUnauthorized, fmt.Sprintf("not an agent: %v", err))
		return spiffeid.ID{}, false
	}
	fs.mu.Lock()
	evicted := fs.evicted[id]
	fs.mu.Unlock()
	if evicted {
		problem(w, http.StatusForbidden, "agent evicted")
		return spiffeid.ID{}, false
	}
	return id, true
}

func (fs *fakeServer) attest(w http.ResponseWriter, r *http.Request) {
	var in agentproto.AttestRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "bad body")
		return
	}
	fs.mu.Lock()
	ok := fs.tokens[in.JoinToken]
	delete(fs.tokens, in.JoinToken)
	fs.agentSeq++
	n := fs.agentSeq
	fs.mu.Unlock()
	if !ok {
		problem(w, http.StatusForbidden, "join token unknown, used or expired")
		return
	}
	id := spiffeid.RequireFromPath(fs.td, fmt.Sprintf("%s%d", agentPathPrefix, n))
	svid, err := fs.ca.MintX509SVID(r.Context(), ca.X509Params{CSR: in.CSR, SPIFFEID: id})
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	reply(w, agentproto.AttestResponse{AgentID: fmt.Sprint(n), SPIFFEID: id.String(), SVID: chainDER(svid), Bundle: fs.bundleJSON()})
}

func chainDER(svid *ca.X509SVID) [][]byte {
	var out [][]byte
	for _, c := range svid.Certificates {
		out = append(out, c.Raw)
	}
	return out
}

func (fs *fakeServer) renew(w http.ResponseWriter, r *http.Request) {
	id, ok := fs.agentOf(w, r)
	if !ok {
		return
	}
	var in agentproto.RenewRequest
	json.NewDecoder(r.Body).Decode(&in)
	svid, err := fs.ca.MintX509SVID(r.Context(), ca.X509Params{CSR: in.CSR, SPIFFEID: id})
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	reply(w, agentproto.RenewResponse{SVID: chainDER(svid)})
}

// serves reports whether agent may serve entry e.
func serves(agent spiffeid.ID, e agentproto.Entry) bool {
	return e.ParentID == "" || e.ParentID == agent.String()
}

func (fs *fakeServer) mintX509(w http.ResponseWriter, r *http.Request) {
	id, ok := fs.agentOf(w, r)
	if !ok {
		return
	}
	var in agentproto.X509SVIDRequest
	json.NewDecoder(r.Body).Decode(&in)
	var out agentproto.X509SVIDResponse
	for _, item := range in.Requests {
		fs.mu.Lock()
		e, ok := fs.entries[item.EntryID]
		fs.minted++
		fs.mu.Unlock()
		if !ok || !serves(id, e) || e.Status != "active" {
			out.Errors = append(out.Errors, agentproto.ItemError{EntryID: item.EntryID, Message: "not served"})
			continue
		}
		svid, err := fs.ca.MintX509SVID(r.Context(), ca.X509Params{CSR: item.CSR, SPIFFEID: spiffeid.RequireFromString(e.SPIFFEID),
			TTL: time.Duration(e.X509SVIDTTL) * time.Second})
		if err != nil {
			out.Errors = append(out.Errors, agentproto.ItemError{EntryID: item.EntryID, Message: err.Error()})
			continue
		}
		out.SVIDs = append(out.SVIDs, agentproto.X509SVID{EntryID: e.ID, SPIFFEID: e.SPIFFEID, Chain: chainDER(svid), ExpiresAt: svid.ExpiresAt})
	}
	reply(w, out)
}

func (fs *fakeServer) mintJWT(w http.ResponseWriter, r *http.Request) {
	id, ok := fs.agentOf(w, r)
	if !ok {
		return
	}
	var in agentproto.JWTSVIDRequest
	json.NewDecoder(r.Body).Decode(&in)
	fs.mu.Lock()
	e, ok := fs.entries[in.EntryID]
	fs.mu.Unlock()
	if !ok || !serves(id, e) || e.Status != "active" {
		problem(w, http.StatusForbidden, "not served")
		return
	}
	tok, exp, err := fs.ca.MintJWTSVID(r.Context(), ca.JWTParams{SPIFFEID: spiffeid.RequireFromString(e.SPIFFEID), Audience: in.Audience})
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	reply(w, agentproto.JWTSVIDResponse{Token: tok, ExpiresAt: exp})
}

// signRevocations signs a batch as the server does.
func (fs *fakeServer) signRevocations(batch agentproto.RevocationBatch) string {
	payload, err := json.Marshal(batch)
	if err != nil {
		fs.tb.Fatal(err)
	}
	jws, err := fs.ca.SignDocument(agentproto.RevocationsType, payload)
	if err != nil {
		fs.tb.Fatal(err)
	}
	return jws
}
