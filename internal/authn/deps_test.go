package authn_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins that the verification checks stay light: the token
// service, the enforcer, the agent and the public SDK all link them, so
// they may use the standard library and depstest.Verification (go-jose,
// go-spiffe's SVID, bundle and TLS types), and nothing of Kith's.
func TestDeps(t *testing.T) {
	deps := depstest.Deps(t)
	depstest.Allow(t, deps, append(depstest.Verification,
		"github.com/kith-dev/kith/internal/authn",
	)...)
	depstest.Forbid(t, deps, depstest.ServerSide, depstest.SQLDrivers)
}
