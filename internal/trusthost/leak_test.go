package trusthost

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/trust"
)

func TestLeakContextOf(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	leak := func(edit func(d map[string]string)) *audit.Event {
		d := map[string]string{"entry_id": "e1", "spiffe_id": "spiffe://example.org/orders", "secret_id": "s1",
			"location": "deploy/values.yaml:4", "commit": "0123456789abcdef", "places": "1", "live": "true", "revoked": "false"}
		edit(d)
		return &audit.Event{Type: audit.TypeOAuthClientSecretLeaked, Time: at, Target: "ci_x", Action: "report",
			Outcome: audit.OutcomeSuccess, Details: d}
	}
	want := func(reason string, weight int, ttl time.Duration) trust.ContextInput {
		return trust.ContextInput{ID: "leak:ci_x:s1", Identity: "spiffe://example.org/orders", Kind: "leak", Source: "kith scan",
			Reason: "client secret s1 of ci_x found at deploy/values.yaml:4 (commit 0123456789ab), " + reason,
			Weight: weight, Expires: at.Add(ttl)}
	}
	tests := []struct {
		name string
		ev   *audit.Event
		want trust.ContextInput
	}{
		{"live", leak(func(map[string]string) {}), want("still live", leakWeightLive, leakTTLLive)},
		{"revoked", leak(func(d map[string]string) { d["revoked"] = "true" }), want("revoked", leakWeightRevoked, leakTTLRevoked)},
		{"expired", leak(func(d map[string]string) { d["live"] = "false" }), want("expired before", leakWeightExpired, leakTTLRevoked)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := leakContextOf(tc.ev)
			if diff := cmp.Diff(tc.want, got); !ok || diff != "" {
				t.Errorf("leakContextOf = %v (-want +got):\n%s", ok, diff)
			}
		})
	}
	unknown := leak(func(map[string]string) {})
	unknown.Outcome, unknown.Target = audit.OutcomeFailure, ""
	noEntry := leak(func(d map[string]string) { d["spiffe_id"] = "" })
	for name, ev := range map[string]*audit.Event{"a secret no client holds": unknown, "an entry since deleted": noEntry} {
		if _, ok := leakContextOf(ev); ok {
			t.Errorf("%s: a context input", name)
		}
	}

	// The engine takes it, and the entry's trust falls by its weight.
	eng, err := trust.New(trust.Config{Clock: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := leakContextOf(leak(func(map[string]string) {}))
	before := eng.State(in.Identity).Trust.Score
	if err := eng.AddContext(in); err != nil {
		t.Fatalf("AddContext: %v", err)
	}
	if after := eng.State(in.Identity).Trust.Score; after != before-leakWeightLive {
		t.Errorf("trust %d after a live leak, was %d: want %d less", after, before, leakWeightLive)
	}
}
