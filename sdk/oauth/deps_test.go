package oauth_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins what the SDK may import, directly or not: the standard
// library, depstest.Verification (go-jose, go-spiffe's SVID, ID, bundle
// and TLS configuration types), and Kith's light internal packages it is
// the public face of: internal/authn (the verification checks) and
// internal/oauthclient (the token source). A service that verifies tokens
// must not pull in Kith's server, gRPC or a database driver.
func TestDeps(t *testing.T) {
	deps := depstest.Deps(t)
	depstest.Allow(t, deps, append(depstest.Verification,
		"github.com/kith-dev/kith/sdk/oauth",
		"github.com/kith-dev/kith/internal/authn",
		"github.com/kith-dev/kith/internal/oauthclient",
	)...)
	depstest.Forbid(t, deps, depstest.ServerSide, depstest.SQLDrivers)
}
