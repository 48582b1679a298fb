package proxy_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/proxy/sidecar"
)

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestSidecarEndToEnd runs the Run of `kith proxy` against a real server
// and agent (it lives here, beside the end-to-end environment it shares
// with the proxies' own tests): the payments workload's outbound proxy calls its own inbound
// proxy with an access token obtained with its JWT-SVID. The upstream sees
// the verified caller and client, the policy refuses what it does not
// allow, and /metrics counts the calls.
func TestSidecarEndToEnd(t *testing.T) {
	e := newE2EEnv(t)
	payments := e.register(t, "/payments")
	e.applyPolicies(t, policy.Document{Name: "payments", Target: payments.String(), Rules: []policy.Rule{{
		Name: "charge", From: policy.From{SPIFFEIDs: []string{payments.String()}},
		To: policy.To{Methods: []string{"GET"}, Paths: []string{"/charge/*"}}, Action: policy.ActionAllow,
	}}})
	entries, err := e.srv.Registry().FindBySPIFFEID(t.Context(), payments)
	if err != nil || len(entries) != 1 {
		t.Fatalf("entry of %s: %v %v", payments, entries, err)
	}
	cl, err := e.admin.CreateClient(t.Context(), api.ClientCreate{EntryID: entries[0].ID, AuthMethod: "jwt_svid",
		Audiences: []string{payments.String()}})
	if err != nil {
		t.Fatal(err)
	}
	e.source(t, payments) // the agent serves the SVID

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get(proxy.HeaderCallerSPIFFEID)+" "+r.Header.Get(proxy.HeaderCallerClientID))
	}))
	t.Cleanup(up.Close)
	inAddr, outAddr, metricsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- sidecar.Run(ctx, sidecar.Config{
			WorkloadSocket:  e.sock,
			DataPlaneSocket: filepath.Join(filepath.Dir(e.sock), "d", "private", "dataplane.sock"),
			Inbound:         &sidecar.Inbound{Addr: inAddr, Upstream: up.URL, Target: payments},
			Outbound:        []sidecar.Outbound{{Addr: outAddr, Destination: inAddr, DestinationID: payments}},
			Tokens:          sidecar.Tokens{TokenURL: "https://" + e.srv.Addr() + "/oauth2/token", Resources: []string{payments.String()}},
			MetricsAddr:     metricsAddr,
			Logger:          e2eLogger(t),
			Ready:           func() { close(ready) },
		})
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil after ctx is done", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run did not stop")
		}
	}
	t.Cleanup(stop)
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run not ready")
	}

	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("http://" + outAddr + "/charge/7"); code != http.StatusOK || body != payments.String()+" "+cl.Client.ID {
		t.Errorf("allowed call: %d %q, want 200 %q", code, body, payments.String()+" "+cl.Client.ID)
	}
	if code, _ := get("http://" + outAddr + "/refund/7"); code != http.StatusForbidden {
		t.Errorf("call the policy does not allow: %d, want 403", code)
	}
	if _, body := get("http://" + metricsAddr + "/metrics"); !strings.Contains(body, `kith_proxy_requests_total{code="403",direction="inbound"} 1`) {
		t.Errorf("metrics do not count the refused inbound call:\n%s", body)
	}

	stop()
	if _, err := net.DialTimeout("tcp", inAddr, time.Second); err == nil {
		t.Error("the inbound proxy still listens after Run returned")
	}
}
