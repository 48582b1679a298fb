package sidecar_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins that `kith proxy`'s process stays light: it links the
// proxies, the data-plane view and the Workload API client, never the
// server's side, a database driver or the agent.
func TestDeps(t *testing.T) {
	depstest.Forbid(t, depstest.Deps(t), depstest.ServerSide, depstest.SQLDrivers,
		[]string{"github.com/kith-dev/kith/internal/agent"})
}
