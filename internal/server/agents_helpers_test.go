package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/store"
)

// testAgent is an attested agent that talks to the server over mutual TLS.
type testAgent struct {
	ID       string
	SPIFFEID string
	key      *ecdsa.PrivateKey
	chain    [][]byte
	client   *http.Client
}

// newCSRKey returns a fresh P-256 key and a CSR for it.
func newCSRKey(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

// joinToken creates a join token through the admin API.
func (ts *testServer) joinToken(t testing.TB) string {
	t.Helper()
	var tok api.JoinToken
	if code := ts.do(t, "POST", "/v1/agents/join-tokens", ts.token, api.JoinTokenCreate{TTL: api.Duration(time.Hour)}, &tok); code != http.StatusCreated {
		t.Fatalf("create join token: %d", code)
	}
	return tok.Token
}

// agentRequest sends an agent API request with client and decodes a JSON
// answer into out; it returns the status and the raw body.
func agentRequest(t testing.TB, client *http.Client, addr, method, path string, body, out any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "https://"+addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(agentproto.ProtocolHeader, agentproto.ProtocolVersion)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
	}
	return resp.StatusCode, raw
}

// attestAgent attests a new agent with a fresh join token.
func (ts *testServer) attestAgent(t testing.TB) *testAgent {
	t.Helper()
	key, csr := newCSRKey(t)
	var out agentproto.AttestResponse
	code, raw := agentRequest(t, ts.client, ts.Addr(), "POST", "/agent/v1/attest",
		agentproto.AttestRequest{JoinToken: ts.joinToken(t), CSR: csr}, &out)
	if code != http.StatusOK {
		t.Fatalf("attest: %d %s", code, raw)
	}
	a := &testAgent{ID: out.AgentID, SPIFFEID: out.SPIFFEID, key: key, chain: out.SVID}
	a.client = ts.clientWithCert(t, out.SVID, key)
	return a
}

// clientWithCert returns an HTTP/2 client that presents chain and key as
// its TLS client certificate and verifies the server's SVID.
func (ts *testServer) clientWithCert(t testing.TB, chain [][]byte, key any) *http.Client {
	t.Helper()
	bundle := x509bundle.FromX509Authorities(ts.TrustDomain(), ts.CA().Bundle().X509Authorities())
	tc := tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(ts.ID()))
	if chain != nil {
		tc.Certificates = []tls.Certificate{{Certificate: chain, PrivateKey: key}}
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// do sends an agent API request as a and decodes the answer into out.
func (a *testAgent) do(t testing.TB, ts *testServer, method, path string, body, out any) (int, []byte) {
	t.Helper()
	return agentRequest(t, a.client, ts.Addr(), method, path, body, out)
}

// syncStream is an open GET /agent/v1/sync.
type syncStream struct {
	msgs   chan agentproto.Message
	cancel context.CancelFunc
	done   chan struct{}
}

// openSync opens a's sync stream from the given revisions; it fails t
// unless the server answers 200. The stream closes when the test ends.
func (a *testAgent) openSync(t testing.TB, ts *testServer, rev, revocs int64) *syncStream {
	t.Helper()
	s, code := a.trySync(t, ts, rev, revocs)
	if code != http.StatusOK {
		t.Fatalf("sync: status %d", code)
	}
	return s
}

// trySync opens a's sync stream and returns it with the status; the
// stream is nil unless the status is 200.
func (a *testAgent) trySync(t testing.TB, ts *testServer, rev, revocs int64) (*syncStream, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	url := "https://" + ts.Addr() + "/agent/v1/sync?revision=" + strconv.FormatInt(rev, 10) + "&revocations=" + strconv.FormatInt(revocs, 10)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(agentproto.ProtocolHeader, agentproto.ProtocolVersion)
	resp, err := a.client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("sync: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	s := &syncStream{msgs: make(chan agentproto.Message, 100), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.msgs)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 32<<20)
		for sc.Scan() {
			var m agentproto.Message
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("sync line %q: %v", sc.Bytes(), err)
				return
			}
			s.msgs <- m
		}
	}()
	t.Cleanup(s.close)
	return s, http.StatusOK
}

// close ends the stream and waits for its reader.
func (s *syncStream) close() {
	s.cancel()
	<-s.done
}

// next returns the next message that is not a heartbeat, failing t after
// 5 seconds or at the end of the stream.
func (s *syncStream) next(t testing.TB) agentproto.Message {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				t.Fatal("sync stream ended")
			}
			if !m.Heartbeat {
				return m
			}
		case <-timeout:
			t.Fatal("no sync message within 5s")
		}
	}
}

// createEntryAPI registers an entry through the admin API under parent: an
// agent's SPIFFE ID, "any" for every agent, or "" for none.
func (ts *testServer) createEntryAPI(t testing.TB, name, parent string) api.Entry {
	t.Helper()
	var e api.Entry
	in := api.Entry{SPIFFEID: "spiffe://" + ts.TrustDomain().Name() + "/" + name, ParentID: parent, Selectors: []string{"unix:uid:1000"}}
	if parent == "any" {
		in.ParentID, in.AnyAgent = "", true
	}
	if code := ts.do(t, "POST", "/v1/entries", ts.token, in, &e); code != http.StatusCreated {
		t.Fatalf("create entry %s: %d", name, code)
	}
	return e
}

// events returns the ledger events of type typ with outcome.
func (ts *testServer) events(t testing.TB, typ, outcome string) []store.Event {
	t.Helper()
	evs, err := ts.store.ListEvents(t.Context(), store.EventFilter{Type: typ, Outcome: outcome, After: -1, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// entryIDs returns the IDs of entries.
func entryIDs(entries []agentproto.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.ID)
	}
	return out
}

// serialOf returns the lower-case hex serial of a DER certificate.
func serialOf(t testing.TB, der []byte) string {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Text(16)
}

// waitHub waits until the sync hub has fanned out every change in the
// store, so that a stream opened next starts from the current state and
// receives nothing twice.
func (ts *testServer) waitHub(t testing.TB) {
	t.Helper()
	caughtUp := func() bool {
		rev, err := ts.store.Revision(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		revocs, err := ts.store.RevocationRevision(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		st := ts.agents.hub.Stats()
		return st.Revision >= rev && st.RevocationRevision >= revocs
	}
	if !await.Signal(5*time.Second, ts.agents.hub.StatsChanged, caughtUp) {
		t.Fatal("the sync hub did not catch up within 5s")
	}
}
