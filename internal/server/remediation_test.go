package server

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/trust"
)

// TestRemediationQuarantines runs a server with a ladder that
// quarantines untrusted callers: a change of a caller's trust to
// untrusted quarantines its entry (share 1), and the ledger says why.
func TestRemediationQuarantines(t *testing.T) {
	file := filepath.Join(t.TempDir(), "remediation.yaml")
	if err := os.WriteFile(file, []byte(`ladders:
  - name: all
    identities: ["spiffe://example.org/**"]
    mode: enforce
    max_quarantine_share: 1
    steps:
      - {level: untrusted, action: quarantine}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "example.org", func(c *Config) { c.Remediation = file })
	ent := ts.createEntryAPI(t, "orders", "any")
	await.Poll(10*time.Second, ts.trust.host.Leader)
	ts.trustChanged([]trust.Change{{Time: time.Now(), Identity: "spiffe://example.org/orders",
		To:      policy.Trust{Score: 100, Level: "untrusted", Signals: []string{"source.concurrent"}},
		Reasons: []trust.Reason{{Kind: "signal", Name: "source.concurrent", Points: -800, Severity: trust.Critical}}}})
	await.Until(t, "the remediation event", 10*time.Second, ts.ledger.Changed, func() bool {
		return len(ts.events(t, audit.TypeRemediationActed, "success")) == 1
	})
	var got api.Entry
	if code := ts.do(t, http.MethodGet, "/v1/entries/"+ent.ID, ts.token, nil, &got); code != http.StatusOK || got.Status != "quarantined" {
		t.Errorf("entry after remediation: %d %+v, want quarantined", code, got)
	}
	if n := len(ts.events(t, audit.TypeEntryQuarantined, "success")); n != 1 {
		t.Errorf("%d entry.quarantined events, want 1", n)
	}
}
