package proxy_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/agent"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/dataplane"
	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/server"
	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/trust"
)

// node is a second agent joined to an e2eEnv's server: another node.
type node struct {
	agent     *agent.Agent
	sock      string // its Workload API socket
	dataPlane string // its data-plane socket
}

// addNode joins another agent to e's server.
func (e *e2eEnv) addNode(t *testing.T) *node {
	t.Helper()
	jt, err := e.srv.Nodes().CreateJoinToken(t.Context(), audit.Actor{Kind: "system", ID: "e2e-test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "k")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &node{sock: filepath.Join(dir, "api.sock"), dataPlane: filepath.Join(dir, "d", "private", "dataplane.sock")}
	if n.agent, err = agent.New(agent.Config{ServerURL: "https://" + e.srv.Addr(), JoinToken: agent.NewJoinToken(jt.Reveal()),
		SocketPath: n.sock, DataDir: filepath.Join(dir, "d"), TrustBundle: e.srv.CA().X509Authorities(), Logger: e2eLogger(t)}); err != nil {
		t.Fatal(err)
	}
	done := runUntilCleanup(t, "agent 2", n.agent.Run)
	select {
	case <-n.agent.Ready():
	case err := <-done:
		t.Fatalf("agent 2 stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("agent 2 not ready")
	}
	return n
}

// registerOn registers path for this process's uid under agent a.
func (e *e2eEnv) registerOn(t *testing.T, a *agent.Agent, path string) spiffeid.ID {
	t.Helper()
	id := spiffeid.RequireFromPath(e.srv.TrustDomain(), path)
	if _, err := e.srv.Registry().Create(t.Context(), audit.Actor{Kind: "system", ID: "e2e-test"}, registry.Spec{
		SPIFFEID: id.String(), ParentID: a.SPIFFEID().String(),
		Selectors: []string{"unix:uid:" + strconv.Itoa(os.Getuid())}, Owner: "e2e"}); err != nil {
		t.Fatal(err)
	}
	return id
}

// sourceAt returns an X509 source of the Workload API at sock serving
// the SVID of id.
func sourceAt(t *testing.T, sock string, id spiffeid.ID) *workloadapi.X509Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+sock)),
		workloadapi.WithDefaultX509SVIDPicker(func(svids []*x509svid.SVID) *x509svid.SVID {
			for _, s := range svids {
				if s.ID == id {
					return s
				}
			}
			return svids[0]
		}))
	if err != nil {
		t.Fatalf("X509 source for %s: %v", id, err)
	}
	t.Cleanup(func() { src.Close() })
	await.Until(t, "the SVID of "+id.String(), 30*time.Second, src.Updated, func() bool {
		s, err := src.GetX509SVID()
		return err == nil && s.ID == id
	})
	return src
}

// inboundOn runs an inbound proxy for target on a node's data-plane
// feed, in front of an upstream that answers 200, and returns the feed
// and the proxy's address.
func inboundOn(t *testing.T, dataPlane string, target spiffeid.ID, svid *workloadapi.X509Source) (*proxy.Feed, string) {
	t.Helper()
	feed, err := proxy.NewFeed(proxy.FeedConfig{DataPlaneSocket: dataPlane, Logger: e2eLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "feed of "+target.String(), feed.Run)
	select {
	case <-feed.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("feed not ready")
	}
	enf, err := feed.Enforcer(proxy.EnforcerConfig{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)
	in, err := proxy.NewInbound(proxy.InboundConfig{Listener: listen(t), Upstream: upURL, Enforcer: enf, SVID: svid,
		Telemetry: feed.Telemetry(), Logger: e2eLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "inbound "+target.String(), in.Run)
	return feed, in.Addr().String()
}

// trustScenario is a real server with two agents (two nodes): orders
// and inventory on node 1, payments on node 2, each service behind an
// inbound proxy fed by its node's agent. payments' policy reads orders'
// trust: allowed while at least 850, step-up below, quarantined below
// 500. orders has two hours of history with inventory.
type trustScenario struct {
	e                           *e2eEnv
	view2                       *dataplane.View
	ordersID                    spiffeid.ID
	inventory, payments         *http.Client
	inventoryAddr, paymentsAddr string
}

func newTrustScenario(t *testing.T) *trustScenario {
	e := newE2EEnv(t, func(c *server.Config) {
		c.Trust.Tuning = trust.Tuning{WarmUp: time.Hour, MinCalls: 20}
	})
	n2 := e.addNode(t)
	ordersID := e.register(t, "/orders")
	inventoryID := e.register(t, "/inventory")
	paymentsID := e.registerOn(t, n2.agent, "/payments")
	e.applyPolicies(t,
		policy.Document{Name: "inventory", Target: inventoryID.String(), Rules: []policy.Rule{{
			Name: "items", From: policy.From{SPIFFEIDs: []string{ordersID.String()}},
			To: policy.To{Methods: []string{"GET"}, Paths: []string{"/items/*"}}, Action: policy.ActionAllow,
		}}},
		policy.Document{Name: "payments", Target: paymentsID.String(), Rules: []policy.Rule{
			{Name: "charge", From: policy.From{SPIFFEIDs: []string{ordersID.String()}},
				To: policy.To{Methods: []string{"GET"}, Paths: []string{"/charge/*"}}, Action: policy.ActionAllow},
			{Name: "step-up-when-suspect", From: policy.From{SPIFFEIDs: []string{ordersID.String()}},
				When: "trust.score < 850", Action: policy.ActionStepUp, StepUp: &policy.StepUp{ACR: []string{"phr"}}},
			{Name: "quarantine-when-untrusted", From: policy.From{SPIFFEIDs: []string{ordersID.String()}},
				When: "trust.score < 500", Action: policy.ActionQuarantine},
		}})
	ordersSrc := e.source(t, ordersID)
	dataPlane1 := filepath.Join(filepath.Dir(e.sock), "d", "private", "dataplane.sock")
	_, inventoryAddr := inboundOn(t, dataPlane1, inventoryID, e.source(t, inventoryID))
	feed2, paymentsAddr := inboundOn(t, n2.dataPlane, paymentsID, sourceAt(t, n2.sock, paymentsID))
	view2 := feed2.View()

	client := func(target spiffeid.ID) *http.Client {
		tr := &http.Transport{TLSClientConfig: tlsconfig.MTLSClientConfig(ordersSrc, e.view, tlsconfig.AuthorizeID(target))}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	inventory, payments := client(inventoryID), client(paymentsID)

	// orders' history: two hours of calls to inventory from this host,
	// as node 1's agent reported them then.
	now := time.Now()
	var history []callrecord.Record
	for i := range 120 {
		history = append(history, callrecord.Record{Time: now.Add(-2*time.Hour + time.Duration(i)*time.Minute), Direction: "inbound",
			Caller: ordersID.String(), CredentialType: "x509_svid", Target: inventoryID.String(), Method: "GET",
			Path: "/items/" + strconv.Itoa(i%7), Status: 200, BytesOut: 120, Decision: "allow", Source: "127.0.0.1"})
	}
	if err := proxy.NewAgentUploader(dataPlane1).Upload(t.Context(), history); err != nil {
		t.Fatal(err)
	}
	host := e.srv.TrustHost()
	await.Until(t, "the engine to learn orders' history", 30*time.Second, host.Progress, func() bool {
		return host.State(ordersID.String()).Calls >= int64(len(history))
	})
	// Node 2 learns orders' state from the engine (until then it gives
	// orders the starting state of an unknown credential, 700).
	await.Until(t, "node 2 to have orders' trust", 30*time.Second, view2.Changed, func() bool {
		return view2.Trust(ordersID.String()).Level == "high"
	})
	sc := &trustScenario{e: e, view2: view2, ordersID: ordersID, inventory: inventory, payments: payments,
		inventoryAddr: inventoryAddr, paymentsAddr: paymentsAddr}
	if code, reason := sc.get(t, payments, paymentsAddr, "/charge/1"); code != http.StatusOK {
		t.Fatalf("orders → payments before the attack: %d %s", code, reason)
	}
	return sc
}

// get calls addr's path with c as orders and returns the status and the
// refusal's reason.
func (sc *trustScenario) get(t *testing.T, c *http.Client, addr, path string) (int, enforce.Reason) {
	t.Helper()
	r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+addr+path, nil)
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Reason enforce.Reason `json:"reason"`
	}
	json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p.Reason
}

// enforcedWithin waits until node 2's view gives orders a score below
// bar, and returns how long after the call that raised the latest signal
// it did.
func (sc *trustScenario) enforcedWithin(t *testing.T, what string, bar int) time.Duration {
	t.Helper()
	var at time.Time
	await.Until(t, what, 30*time.Second, sc.view2.Changed, func() bool {
		at = time.Now()
		return sc.view2.Trust(sc.ordersID.String()).Score < bar
	})
	sigs, err := sc.e.srv.Ledger().Query(t.Context(), store.EventFilter{Type: audit.TypeTrustSignal, Target: sc.ordersID.String(), After: -1, Limit: 1000})
	if err != nil || len(sigs) == 0 {
		t.Fatalf("no trust.signal of orders in the ledger: %v", err)
	}
	last := sigs[len(sigs)-1].Event
	d := at.Sub(last.Time)
	if testing.Verbose() {
		t.Logf("%s: %s %s at %s, enforced on node 2 %v later", what, last.Details["kind"], last.Details["severity"],
			last.Time.Format(time.RFC3339Nano), d)
	}
	return d
}

// TestTrustEndToEnd runs a real server, two agents (two nodes) and an
// inbound proxy on each. orders, on node 1, calls inventory (node 1) and
// payments (node 2); payments' policy reads orders' trust: allowed while
// high, step-up below 850, quarantined below 500. Attack traffic from
// orders against inventory — probing a route it may not use, then
// enumerating routes — lowers its trust through the engine's signals;
// node 2's proxy answers step-up, then quarantine, each within a second
// of the call that raised the signal; the ledger says why (trust.signal,
// trust.level_changed); an admin's clear restores access.
func TestTrustEndToEnd(t *testing.T) {
	sc := newTrustScenario(t)
	e, view2, ordersID := sc.e, sc.view2, sc.ordersID
	get := func(c *http.Client, addr, path string) (int, enforce.Reason) {
		t.Helper()
		return sc.get(t, c, addr, path)
	}
	enforcedWithin := func(what string, bar int) time.Duration { t.Helper(); return sc.enforcedWithin(t, what, bar) }
	inventory, payments, inventoryAddr, paymentsAddr := sc.inventory, sc.payments, sc.inventoryAddr, sc.paymentsAddr
	// Probing: one route inventory's policy does not give orders, again
	// and again. Every call is refused, and they add up to an errors
	// burst.
	for range 10 {
		if code, _ := get(inventory, inventoryAddr, "/admin/users"); code != http.StatusForbidden {
			t.Fatalf("probe: %d, want 403", code)
		}
	}
	if d := enforcedWithin("node 2 to lower orders' trust below high", 850); d > time.Second {
		t.Errorf("signal to enforcement on another node took %v, want at most 1s", d)
	}
	if code, reason := get(payments, paymentsAddr, "/charge/2"); code != http.StatusUnauthorized || reason != enforce.ReasonStepUp {
		t.Errorf("orders → payments after probing: %d %s, want 401 %s", code, reason, enforce.ReasonStepUp)
	}

	// Enumeration: many routes it never used (an errors burst over many
	// routes is graver than the probe's: a further signal).
	for i := range 24 {
		get(inventory, inventoryAddr, "/internal/"+strconv.Itoa(i)+"/export")
	}
	if d := enforcedWithin("node 2 to drop orders' trust below 500", 500); d > time.Second {
		t.Errorf("signal to enforcement on another node took %v, want at most 1s", d)
	}
	if code, reason := get(payments, paymentsAddr, "/charge/3"); code != http.StatusForbidden || reason != enforce.ReasonQuarantined {
		t.Errorf("orders → payments after enumerating: %d %s, want 403 %s", code, reason, enforce.ReasonQuarantined)
	}

	// The ledger says why.
	changes, err := e.srv.Ledger().Query(t.Context(), store.EventFilter{Type: audit.TypeTrustLevelChanged, Target: ordersID.String(), After: -1})
	if err != nil || len(changes) < 2 {
		t.Fatalf("trust.level_changed events of orders: %d, %v; want at least 2", len(changes), err)
	}
	for _, c := range changes {
		t.Logf("trust.level_changed: %s → %s (%s): %s", c.Event.Details["from_level"], c.Event.Details["to_level"], c.Event.Action, c.Event.Reason)
	}
	if !hasCause(changes, "signal ") {
		t.Errorf("no level change names a signal as its cause")
	}

	// An admin clears orders' trust: payments lets it in again.
	st, err := e.admin.ClearTrust(t.Context(), ordersID.String(), "investigated: a test")
	if err != nil {
		t.Fatal(err)
	}
	if st.Level != "high" {
		t.Errorf("state after clear: %+v, want high", st)
	}
	await.Until(t, "node 2 to restore orders' trust", 30*time.Second, view2.Changed, func() bool {
		return view2.Trust(ordersID.String()).Level == "high"
	})
	if code, reason := get(payments, paymentsAddr, "/charge/4"); code != http.StatusOK {
		t.Errorf("orders → payments after the clear: %d %s, want 200", code, reason)
	}
	cleared, err := e.srv.Ledger().Query(t.Context(), store.EventFilter{Type: audit.TypeTrustCleared, Target: ordersID.String(), After: -1})
	if err != nil || len(cleared) != 1 || cleared[0].Event.Actor.Kind != "admin" || cleared[0].Event.Reason != "investigated: a test" {
		t.Errorf("trust.cleared events: %+v, %v; want one naming the admin and the reason", cleared, err)
	}
	// The records carry where the calls came from, and which node said so.
	calls, err := e.srv.Ledger().Query(t.Context(), store.EventFilter{Type: audit.TypeCallDecided, Actor: ordersID.String(), After: -1, Limit: 1000})
	if err != nil || len(calls) == 0 {
		t.Fatalf("call.decided events: %v", err)
	}
	last := calls[len(calls)-1].Event
	if last.Actor.RemoteAddr != "127.0.0.1" || last.Details["reported_by"] == "" {
		t.Errorf("last call.decided: remote_addr %q, reported_by %q", last.Actor.RemoteAddr, last.Details["reported_by"])
	}
}

// hasCause reports whether a level change names cause.
func hasCause(evs []ledger.IndexedEvent, prefix string) bool {
	for _, e := range evs {
		if len(e.Event.Action) >= len(prefix) && e.Event.Action[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}
