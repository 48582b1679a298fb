package proxy

import (
	"strings"
	"testing"
	"time"
)

// TestWireFitsValidate: a call whose path, route, reason and rule are as
// long and as costly to escape as can be still makes a valid record.
func TestWireFitsValidate(t *testing.T) {
	nasty := strings.Repeat("<\x00\xff", 2000)
	rec := Record{Time: time.Now(), Direction: "inbound", Caller: "spiffe://example.org/a", Target: "spiffe://example.org/b",
		ClientID: nasty, CredentialID: nasty, CredentialType: nasty, Method: nasty, Route: nasty, Path: nasty,
		Status: 200, Latency: time.Millisecond, Decision: "deny", Rule: nasty, Reason: nasty}
	w := rec.wire()
	if err := w.Validate(); err != nil {
		t.Fatalf("wire() of a long record: %v", err)
	}
	if w.Path == "" || !strings.HasPrefix(w.Path, "<") {
		t.Errorf("path clipped to %q, want a prefix of the call's", w.Path)
	}
}
