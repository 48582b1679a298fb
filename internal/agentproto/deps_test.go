package agentproto_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins what the agent protocol links: the standard library,
// go-spiffe and go-jose (for the signed revocation batch) and package
// signeddoc. Agents, proxies and the SDK import it; anything heavier here
// would reach all of them.
func TestDeps(t *testing.T) {
	deps := depstest.Deps(t)
	depstest.Allow(t, deps,
		"github.com/kith-dev/kith/internal/agentproto",
		"github.com/kith-dev/kith/internal/signeddoc",
		"github.com/spiffe/go-spiffe/v2",
		"github.com/go-jose/go-jose/v4",
	)
	depstest.Forbid(t, deps, depstest.ServerSide, depstest.SQLDrivers)
}
