package trust_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins that the trust engine links nothing of the server side:
// no store, no ledger, no server, no SQL driver. Its Index is what the
// data plane holds, so proxies link it; and the engine must stay a pure
// package the server feeds.
func TestDeps(t *testing.T) {
	deps := depstest.Deps(t)
	depstest.Forbid(t, deps, depstest.ServerSide, depstest.SQLDrivers, []string{
		"github.com/kith-dev/kith/internal/enforce",
		"github.com/kith-dev/kith/internal/dataplane",
		"github.com/kith-dev/kith/internal/agent",
		"github.com/kith-dev/kith/internal/proxy",
		"google.golang.org/grpc",
	})
}
