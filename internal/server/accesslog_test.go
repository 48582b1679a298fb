package server

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/kith-dev/kith/internal/await"
)

// TestAccessLog: with Config.AccessLog every request is logged at info,
// with its method, path, status and source; without it, not at info.
func TestAccessLog(t *testing.T) {
	for _, on := range []bool{true, false} {
		var logs await.Buffer
		ts := startServer(t, "example.org", func(c *Config) {
			c.AccessLog = on
			c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		})
		if code := ts.do(t, "GET", "/healthz", "", nil, nil); code != http.StatusOK {
			t.Fatalf("healthz: %d", code)
		}
		if code := ts.do(t, "GET", "/v1/entries", "wrong", nil, nil); code != http.StatusUnauthorized {
			t.Fatalf("entries with a wrong token: %d", code)
		}
		line := func(path, status string) func() bool {
			return func() bool {
				for l := range strings.Lines(logs.String()) {
					if strings.Contains(l, "level=INFO") && strings.Contains(l, "msg=\"http request\"") && strings.Contains(l, "method=GET") &&
						strings.Contains(l, "path="+path) && strings.Contains(l, "status="+status) && strings.Contains(l, "remote=127.0.0.1:") {
						return true
					}
				}
				return false
			}
		}
		if on {
			// The line is written once the answer is: wait for it.
			await.Until(t, "the access log lines", 10e9, logs.Wrote, func() bool { return line("/healthz", "200")() && line("/v1/entries", "401")() })
			if strings.Contains(logs.String(), "wrong") {
				t.Error("the access log holds the bearer token")
			}
		} else if strings.Contains(logs.String(), "http request") {
			t.Errorf("requests logged at info without AccessLog:\n%s", logs.String())
		}
	}
}
