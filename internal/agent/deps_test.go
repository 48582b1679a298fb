package agent_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins that the node agent links no part of the server and no
// database: it speaks to the server through package agentproto only.
func TestDeps(t *testing.T) {
	depstest.Forbid(t, depstest.Deps(t), depstest.ServerSide, depstest.SQLDrivers)
}
