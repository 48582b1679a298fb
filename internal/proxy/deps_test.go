package proxy_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins that the proxy links no part of the server and no
// database: it learns trust data from the agent's data-plane feed only.
func TestDeps(t *testing.T) {
	depstest.Forbid(t, depstest.Deps(t), depstest.ServerSide, depstest.SQLDrivers)
}
