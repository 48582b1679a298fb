package healthcheck

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestServer(t *testing.T) {
	ready := true
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz":
			w.Write([]byte(`{"status":"ok"}`))
		case r.URL.Path == "/readyz" && ready:
			w.Write([]byte(`{"status":"ready"}`))
		case r.URL.Path == "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"ledger verification failed","reason":"entry 7 differs"}`))
		}
	}))
	defer ts.Close()
	base, _ := url.Parse(ts.URL)
	cfg := ServerConfig{BaseURL: *base, HTTPClient: ts.Client()}
	r, err := Server(t.Context(), cfg)
	if err != nil || r.Detail != "ready" || !strings.HasSuffix(r.Target, "/readyz") {
		t.Errorf("ready server: %+v, %v", r, err)
	}
	ready = false
	if _, err := Server(t.Context(), cfg); !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "ledger verification failed: entry 7 differs") {
		t.Errorf("not ready: %v, want ErrUnhealthy with the reason", err)
	}
	cfg.Shallow = true
	if r, err := Server(t.Context(), cfg); err != nil || r.Detail != "ok" {
		t.Errorf("shallow: %+v, %v", r, err)
	}
}

func TestAgentHealthAddr(t *testing.T) {
	code := http.StatusOK
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		w.Write([]byte(`{"spiffe_id":"spiffe://a.test/kith/agent/x","ready":` + map[bool]string{true: "true", false: "false"}[code == 200] + `}`))
	}))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	r, err := Agent(t.Context(), AgentConfig{HealthAddr: addr})
	if err != nil || r.Detail != "agent spiffe://a.test/kith/agent/x ready: true" {
		t.Errorf("ready agent: %+v, %v", r, err)
	}
	code = http.StatusServiceUnavailable
	if _, err := Agent(t.Context(), AgentConfig{HealthAddr: addr}); !errors.Is(err, ErrUnhealthy) {
		t.Errorf("agent not ready: %v, want ErrUnhealthy", err)
	}
	if _, err := Agent(t.Context(), AgentConfig{}); err == nil {
		t.Error("no socket or address: no error")
	}
}
