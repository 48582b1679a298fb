package oauthclient_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins that the token source stays light enough for the SDK to
// link: the standard library, depstest.Verification and internal/authn
// (whose DPoP claims and token hash the signer shares with the verifier).
func TestDeps(t *testing.T) {
	deps := depstest.Deps(t)
	depstest.Allow(t, deps, append(depstest.Verification,
		"github.com/kith-dev/kith/internal/oauthclient",
		"github.com/kith-dev/kith/internal/authn",
	)...)
	depstest.Forbid(t, deps, depstest.ServerSide, depstest.SQLDrivers)
}
