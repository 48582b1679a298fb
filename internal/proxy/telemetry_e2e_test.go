package proxy_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/store"
)

// TestEndToEndTelemetry follows call records from the inbound proxy
// through the agent's data-plane socket to the server's ledger.
func TestEndToEndTelemetry(t *testing.T) {
	e := newE2EEnv(t)
	ordersID := e.register(t, "/orders")
	paymentsID := e.register(t, "/payments")
	e.applyPolicies(t, policy.Document{Name: "payments", Target: paymentsID.String(), Rules: []policy.Rule{{
		Name: "charge", From: policy.From{SPIFFEIDs: []string{ordersID.String()}},
		To: policy.To{Methods: []string{"GET"}, Paths: []string{"/charge/*"}}, Action: policy.ActionAllow,
	}}})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "charged") }))
	t.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)

	uploader := proxy.NewAgentUploader(filepath.Join(filepath.Dir(e.sock), "d", "private", "dataplane.sock"))
	t.Cleanup(uploader.Close)
	tel, err := proxy.NewTelemetry(proxy.TelemetryConfig{Uploader: uploader, FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "telemetry", tel.Run)
	enf, err := enforce.New(enforce.Config{Target: paymentsID, Bundles: e.view, Revocations: e.view,
		Policy: e.view.PolicyEngine(), Issuer: e.view.Issuer(), Keys: e.view})
	if err != nil {
		t.Fatal(err)
	}
	in, err := proxy.NewInbound(proxy.InboundConfig{Listener: listen(t), Upstream: upURL, Enforcer: enf,
		SVID: e.source(t, paymentsID), Telemetry: tel, Logger: e2eLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "inbound", in.Run)
	out, err := proxy.NewOutbound(proxy.OutboundConfig{Listener: listen(t), Destination: in.Addr().String(),
		DestinationID: paymentsID, SVID: e.source(t, ordersID), Bundles: e.view, Revocations: e.view, Logger: e2eLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "outbound", out.Run)

	for path, want := range map[string]int{"/charge/7": http.StatusOK, "/refund/7": http.StatusForbidden} {
		resp, err := http.Get("http://" + out.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}

	var evs []ledger.IndexedEvent
	await.Until(t, "two call.decided events in the ledger", 30*time.Second, e.srv.Ledger().Changed, func() bool {
		evs, err = e.srv.Ledger().Query(context.Background(), store.EventFilter{Type: "call.decided", After: -1})
		return err == nil && len(evs) == 2
	})
	got := map[string]audit.Event{}
	for _, ev := range evs {
		got[ev.Event.Action] = ev.Event
	}
	ok, denied := got["GET /charge/7"], got["GET /refund/7"]
	if ok.Outcome != audit.OutcomeSuccess || ok.Actor.ID != ordersID.String() || ok.Actor.CredentialType == "" ||
		ok.Target != paymentsID.String() || ok.Details["status"] != "200" || ok.Policy == nil || ok.Policy.Rule == "" {
		t.Errorf("allowed call recorded as %s", mustJSON(t, ok))
	}
	if denied.Outcome != audit.OutcomeDenied || denied.Actor.ID != ordersID.String() || denied.Details["status"] != "403" {
		t.Errorf("denied call recorded as %s", mustJSON(t, denied))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
