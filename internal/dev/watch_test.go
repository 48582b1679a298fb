package dev

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestTrafficWatch: when the demo's orders start being refused, the log
// says so once, with the answer; when they go through again, once too.
func TestTrafficWatch(t *testing.T) {
	var logs strings.Builder
	w := &trafficWatch{logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	w.observe(http.StatusOK, "order 1: payments said 200", nil)
	if logs.Len() != 0 {
		t.Fatalf("logged while the calls go through:\n%s", logs.String())
	}
	w.observe(http.StatusForbidden, "order 2: payments said 403: denied by policy demo-payments\n", nil)
	w.observe(http.StatusForbidden, "order 3: payments said 403", nil)
	w.observe(0, "", errors.New("connection refused"))
	if got := strings.Count(logs.String(), "being refused"); got != 1 {
		t.Errorf("%d refusal lines, want 1:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "denied by policy demo-payments") || !strings.Contains(logs.String(), "kith audit tail --calls") {
		t.Errorf("the refusal line lacks the answer or the hint:\n%s", logs.String())
	}
	w.observe(http.StatusOK, "order 5: payments said 200", nil)
	w.observe(http.StatusOK, "order 6: payments said 200", nil)
	if got := strings.Count(logs.String(), "go through again"); got != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", got, logs.String())
	}
}
