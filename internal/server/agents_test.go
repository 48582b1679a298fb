package server

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/agentproto"
)

func TestAgentAttestation(t *testing.T) {
	ts := startServer(t, "example.org")
	tok := ts.joinToken(t)
	if !strings.HasPrefix(tok, "kith_jt_") {
		t.Fatalf("join token %q lacks its prefix", tok)
	}
	_, csr := newCSRKey(t)
	var out agentproto.AttestResponse
	if code, raw := agentRequest(t, ts.client, ts.Addr(), "POST", "/agent/v1/attest", agentproto.AttestRequest{JoinToken: tok, CSR: csr}, &out); code != http.StatusOK {
		t.Fatalf("attest: %d %s", code, raw)
	}
	bundle := x509bundle.FromX509Authorities(ts.TrustDomain(), ts.CA().Bundle().X509Authorities())
	id, _, err := x509svid.ParseAndVerify(out.SVID, bundle)
	if err != nil {
		t.Fatalf("go-spiffe refuses the agent SVID: %v", err)
	}
	if want := "spiffe://example.org/kith/agent/" + out.AgentID; id.String() != want || out.SPIFFEID != want {
		t.Errorf("SVID for %s (answer says %s), want %s", id, out.SPIFFEID, want)
	}
	if len(out.Bundle) == 0 {
		t.Error("no bundle in the answer")
	}

	// The token is single use, and refusals are recorded.
	_, csr2 := newCSRKey(t)
	code, raw := agentRequest(t, ts.client, ts.Addr(), "POST", "/agent/v1/attest", agentproto.AttestRequest{JoinToken: tok, CSR: csr2}, nil)
	if code != http.StatusForbidden || !strings.Contains(string(raw), "join token already used") {
		t.Errorf("reused token: %d %s, want 403 naming the reuse", code, raw)
	}
	if evs := ts.events(t, "agent.attested", "denied"); len(evs) != 1 {
		t.Errorf("%d refusals in the ledger, want 1", len(evs))
	}
	if evs := ts.events(t, "agent.attested", "success"); len(evs) != 1 || evs[0].Target != out.AgentID {
		t.Errorf("attestations in the ledger: %+v", evs)
	}

	var agent api.Agent
	if code := ts.do(t, "GET", "/v1/agents/"+out.AgentID, ts.token, nil, &agent); code != http.StatusOK ||
		agent.Status != "active" || agent.SPIFFEID != out.SPIFFEID {
		t.Errorf("GET agent: %d %+v", code, agent)
	}
}

func TestAgentAttestRefusals(t *testing.T) {
	ts := startServer(t, "example.org")
	_, csr := newCSRKey(t)
	tests := []struct {
		name     string
		body     string
		protocol string
		want     int
	}{
		{"no protocol header", `{"join_token":"x","csr":"AA=="}`, "", http.StatusBadRequest},
		{"other protocol", `{"join_token":"x","csr":"AA=="}`, "2", http.StatusBadRequest},
		{"not JSON", `hello`, "1", http.StatusBadRequest},
		{"no token", `{"csr":"AA=="}`, "1", http.StatusBadRequest},
		{"malformed token", mustJSONString(t, agentproto.AttestRequest{JoinToken: "nope", CSR: csr}), "1", http.StatusUnauthorized},
		{"unknown token", mustJSONString(t, agentproto.AttestRequest{JoinToken: "kith_jt_000000000000_" + strings.Repeat("A", 43), CSR: csr}), "1", http.StatusUnauthorized},
		{"bad CSR", mustJSONString(t, agentproto.AttestRequest{JoinToken: ts.joinToken(t), CSR: []byte("junk")}), "1", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", "https://"+ts.Addr()+"/agent/v1/attest", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.protocol != "" {
				req.Header.Set(agentproto.ProtocolHeader, tc.protocol)
			}
			resp, err := ts.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestAgentJoinTokenRace(t *testing.T) {
	ts := startServer(t, "example.org")
	// A connection dialled for a request that another one served stays
	// "new" on the server, which then waits 5s for it at shutdown.
	t.Cleanup(ts.client.CloseIdleConnections)
	tok := ts.joinToken(t)
	const n = 4
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		_, csr := newCSRKey(t)
		wg.Go(func() {
			codes[i], _ = agentRequest(t, ts.client, ts.Addr(), "POST", "/agent/v1/attest", agentproto.AttestRequest{JoinToken: tok, CSR: csr}, nil)
		})
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			won++
		case http.StatusForbidden:
		default:
			t.Errorf("status %d, want 200 or 403", c)
		}
	}
	if won != 1 {
		t.Errorf("%d attestations won with one token (%v), want exactly 1", won, codes)
	}
}

func TestAgentAPIIsMTLSOnly(t *testing.T) {
	ts := startServer(t, "example.org")
	other := startServer(t, "example.org")
	agent := ts.attestAgent(t)
	stranger := other.attestAgent(t) // an agent SVID from another CA of the same trust domain
	evicted := ts.attestAgent(t)

	workloadKey, csr := newCSRKey(t)
	var svid api.X509SVID
	if code := ts.do(t, "POST", "/v1/svids/x509", ts.token, api.X509SVIDMint{SPIFFEID: "spiffe://example.org/web", CSR: csr}, &svid); code != http.StatusOK {
		t.Fatalf("mint workload SVID: %d", code)
	}
	workload := ts.clientWithCert(t, svid.Certificates, workloadKey)
	var ev api.AgentEviction
	if code := ts.do(t, "POST", "/v1/agents/"+evicted.ID+"/evict", ts.token, nil, &ev); code != http.StatusOK || ev.Agent.Status != "evicted" {
		t.Fatalf("evict: %d %+v", code, ev)
	}

	clients := []struct {
		name   string
		client *http.Client
		want   int
	}{
		{"agent", agent.client, http.StatusOK},
		{"no certificate", ts.clientWithCert(t, nil, nil), http.StatusUnauthorized},
		{"agent of another CA", ts.clientWithCert(t, stranger.chain, stranger.key), http.StatusUnauthorized},
		{"workload SVID", workload, http.StatusUnauthorized},
		{"evicted agent", evicted.client, http.StatusForbidden},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			_, renewCSR := newCSRKey(t)
			var out agentproto.RenewResponse
			code, raw := agentRequest(t, c.client, ts.Addr(), "POST", "/agent/v1/renew", agentproto.RenewRequest{CSR: renewCSR}, &out)
			if code != c.want {
				t.Errorf("renew: %d %s, want %d", code, raw, c.want)
			}
			if code == http.StatusOK {
				leaf, err := x509.ParseCertificate(out.SVID[0])
				if err != nil || leaf.URIs[0].String() != agent.SPIFFEID {
					t.Errorf("renewed SVID: %v %v", leaf.URIs, err)
				}
			}
			req, _ := http.NewRequest("GET", "https://"+ts.Addr()+"/agent/v1/sync", nil)
			req.Header.Set(agentproto.ProtocolHeader, agentproto.ProtocolVersion)
			if c.want == http.StatusOK {
				return // the stream itself is tested elsewhere
			}
			resp, err := c.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("sync: %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
}

func TestAgentSVIDBatchRespectsParentAndStatus(t *testing.T) {
	ts := startServer(t, "example.org")
	me, other := ts.attestAgent(t), ts.attestAgent(t)
	mine := ts.createEntryAPI(t, "mine", me.SPIFFEID)
	anyAgent := ts.createEntryAPI(t, "any", "any")
	foreign := ts.createEntryAPI(t, "foreign", other.SPIFFEID)
	unparented := ts.createEntryAPI(t, "unparented", "") // served by no agent
	quarantined := ts.createEntryAPI(t, "quarantined", me.SPIFFEID)
	if code := ts.do(t, "POST", "/v1/entries/"+quarantined.ID+"/quarantine", ts.token, nil, nil); code != http.StatusOK {
		t.Fatalf("quarantine: %d", code)
	}
	item := func(id string) agentproto.X509SVIDRequestItem {
		_, csr := newCSRKey(t)
		return agentproto.X509SVIDRequestItem{EntryID: id, CSR: csr}
	}
	var out agentproto.X509SVIDResponse
	code, raw := me.do(t, ts, "POST", "/agent/v1/svids/x509", agentproto.X509SVIDRequest{Requests: []agentproto.X509SVIDRequestItem{
		item(mine.ID), item(anyAgent.ID), item(foreign.ID), item(unparented.ID), item(quarantined.ID), item("nope"),
	}}, &out)
	if code != http.StatusOK {
		t.Fatalf("svids: %d %s", code, raw)
	}
	var granted []string
	for _, s := range out.SVIDs {
		granted = append(granted, s.SPIFFEID)
	}
	if d := cmp.Diff([]string{"spiffe://example.org/mine", "spiffe://example.org/any"}, granted); d != "" {
		t.Errorf("granted (-want +got):\n%s", d)
	}
	wantErrs := []agentproto.ItemError{
		{EntryID: foreign.ID, Message: "unknown entry, or not served by this agent"},
		{EntryID: unparented.ID, Message: "unknown entry, or not served by this agent"},
		{EntryID: quarantined.ID, Message: "entry " + quarantined.ID + " is quarantined"},
		{EntryID: "nope", Message: "unknown entry, or not served by this agent"},
	}
	if d := cmp.Diff(wantErrs, out.Errors); d != "" {
		t.Errorf("refusals (-want +got):\n%s", d)
	}

	var jwt agentproto.JWTSVIDResponse
	if code, raw := me.do(t, ts, "POST", "/agent/v1/svids/jwt", agentproto.JWTSVIDRequest{EntryID: mine.ID, Audience: []string{"api"}}, &jwt); code != http.StatusOK || jwt.Token == "" {
		t.Errorf("jwt for own entry: %d %s", code, raw)
	}
	if code, _ := me.do(t, ts, "POST", "/agent/v1/svids/jwt", agentproto.JWTSVIDRequest{EntryID: foreign.ID, Audience: []string{"api"}}, nil); code != http.StatusForbidden {
		t.Errorf("jwt for a foreign entry: %d, want 403", code)
	}
	if code, _ := me.do(t, ts, "POST", "/agent/v1/svids/jwt", agentproto.JWTSVIDRequest{EntryID: mine.ID}, nil); code != http.StatusBadRequest {
		t.Errorf("jwt without audience: %d, want 400", code)
	}
}

func TestAgentAdminRoutes(t *testing.T) {
	ts := startServer(t, "example.org")
	a, b := ts.attestAgent(t), ts.attestAgent(t)
	var list api.AgentList
	if code := ts.do(t, "GET", "/v1/agents?limit=1", ts.token, nil, &list); code != http.StatusOK || len(list.Agents) != 1 || list.Next == "" {
		t.Fatalf("list page: %d %+v", code, list)
	}
	var rest api.AgentList
	if code := ts.do(t, "GET", "/v1/agents?after="+list.Next, ts.token, nil, &rest); code != http.StatusOK || len(rest.Agents) != 1 {
		t.Fatalf("list rest: %d %+v", code, rest)
	}
	if got := []string{list.Agents[0].ID, rest.Agents[0].ID}; !(got[0] == min(a.ID, b.ID) && got[1] == max(a.ID, b.ID)) {
		t.Errorf("agents listed %v", got)
	}
	tests := []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/v1/agents/nope", nil, http.StatusNotFound},
		{"POST", "/v1/agents/nope/evict", nil, http.StatusNotFound},
		{"POST", "/v1/agents/join-tokens", api.JoinTokenCreate{TTL: api.Duration(1)}, http.StatusBadRequest},
		{"POST", "/v1/agents/join-tokens", nil, http.StatusCreated},
		{"POST", "/v1/entries/nope/revoke", nil, http.StatusNotFound},
		{"POST", "/v1/entries/nope/quarantine", nil, http.StatusNotFound},
		{"POST", "/v1/entries/nope/release", nil, http.StatusNotFound},
	}
	for _, tc := range tests {
		if code := ts.do(t, tc.method, tc.path, ts.token, tc.body, nil); code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, code, tc.want)
		}
	}

	e := ts.createEntryAPI(t, "web", "any")
	var rev api.EntryRevocation
	if code := ts.do(t, "POST", "/v1/entries/"+e.ID+"/revoke", ts.token, nil, &rev); code != http.StatusOK ||
		rev.Entry.Status != "active" || rev.ExpiresAt.Sub(rev.RevokedAt) != 24*60*60*1e9 {
		t.Errorf("revoke: %d %+v", code, rev)
	}
	if code := ts.do(t, "POST", "/v1/entries/"+e.ID+"/quarantine", ts.token, nil, &rev); code != http.StatusOK || rev.Entry.Status != "quarantined" {
		t.Errorf("quarantine: %d %+v", code, rev)
	}
	var released api.Entry
	if code := ts.do(t, "POST", "/v1/entries/"+e.ID+"/release", ts.token, nil, &released); code != http.StatusOK || released.Status != "active" {
		t.Errorf("release: %d %+v", code, released)
	}
}

func mustJSONString(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
