package callrecord

import (
	"strings"
	"testing"
	"time"
)

// TestClippedFitsValidate: a call whose path, route, reason and rule are
// as long and as costly to escape as can be still makes a valid record.
func TestClippedFitsValidate(t *testing.T) {
	nasty := strings.Repeat("<\x00\xff", 2000)
	rec := Record{Time: time.Now(), Direction: "inbound", Caller: "spiffe://example.org/a", Target: "spiffe://example.org/b",
		ClientID: nasty, CredentialID: nasty, CredentialType: nasty, Method: nasty, Route: nasty, Path: nasty,
		Status: 200, LatencyMicros: 1000, Decision: "deny", Rule: nasty, Reason: nasty}
	w := rec.Clipped()
	if err := w.Validate(); err != nil {
		t.Fatalf("Clipped() of a long record: %v", err)
	}
	if w.Path == "" || !strings.HasPrefix(w.Path, "<") {
		t.Errorf("path clipped to %q, want a prefix of the call's", w.Path)
	}
	if rec.Path != nasty {
		t.Error("Clipped changed the record it was called on")
	}
}
