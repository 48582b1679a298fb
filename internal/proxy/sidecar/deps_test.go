package sidecar_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps `kith proxy`'s process light: it links the proxies, the
// data-plane view and the Workload API client, never a store, an SQL
// driver, the server or the agent.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/kith-dev/kith/internal/store",
		"github.com/kith-dev/kith/internal/server",
		"github.com/kith-dev/kith/internal/agent",
		"github.com/kith-dev/kith/internal/ledger",
		"modernc.org/sqlite",
		"github.com/jackc/pgx",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("internal/proxy/sidecar depends on %s", dep)
			}
		}
	}
}
