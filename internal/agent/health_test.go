package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kith-dev/kith/internal/agentproto"
)

func TestHealthEndpoints(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	cfg := newTestConfig(t, fs, clock)
	cfg.HealthAddr = "127.0.0.1:0"
	r := startAgent(t, cfg)
	fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/web", Selectors: []string{"unix:uid:1"}})
	eventually(t, "entry", r.changed.wait, func() bool { return r.Status().Entries == 1 })
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + r.HealthAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tests := []struct {
		path     string
		wantCode int
		check    func(body string) bool
	}{
		{"/healthz", 200, func(b string) bool {
			var st Status
			return json.Unmarshal([]byte(b), &st) == nil && st.Connected && st.Entries == 1 && st.SPIFFEID == r.SPIFFEID().String()
		}},
		{"/readyz", 200, func(b string) bool { return strings.Contains(b, `"ready":true`) }},
		{"/metrics", 200, func(b string) bool {
			return strings.Contains(b, "kith_agent_sync_connected 1") && strings.Contains(b, "kith_agent_svids_held")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(tt.path)
			if code != tt.wantCode || !tt.check(body) {
				t.Errorf("GET %s = %d %s", tt.path, code, body)
			}
		})
	}
	fs.stop()
	eventually(t, "disconnection", r.changed.wait, func() bool { return !r.Status().Connected })
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz while the server is down = %d %s, want 200 (serving from the cache)", code, body)
	}
}
