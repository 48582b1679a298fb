package remediation_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins that the ladder links nothing of the server side: it
// acts only through the interfaces the server implements (Actions,
// Fleet, States, Auditor), so that it can be tested with fakes and
// cannot reach around its guard rails.
func TestDeps(t *testing.T) {
	deps := depstest.Deps(t)
	depstest.Forbid(t, deps, depstest.ServerSide, depstest.SQLDrivers, []string{
		"github.com/kith-dev/kith/internal/oauth",
		"github.com/kith-dev/kith/internal/enforce",
		"github.com/kith-dev/kith/internal/agent",
		"google.golang.org/grpc",
	})
}
