package callrecord_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins what the call record links: the standard library,
// go-spiffe's spiffeid and package audit. Proxies and the SDK middleware
// import it; anything heavier here would reach them.
func TestDeps(t *testing.T) {
	deps := depstest.Deps(t)
	depstest.Allow(t, deps,
		"github.com/kith-dev/kith/internal/callrecord",
		"github.com/kith-dev/kith/internal/audit",
		"github.com/spiffe/go-spiffe/v2/spiffeid",
	)
	depstest.Forbid(t, deps, depstest.ServerSide, depstest.SQLDrivers)
}
