package workload_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps keeps Kith's server side out of the workload package: it may
// pull in go-spiffe (its Workload API client) and gRPC, and of Kith's
// internal packages only the light ones sdk/oauth is the public face of
// (internal/oauthclient and its workload subpackage, and internal/authn;
// sdk/oauth's TestDeps pins them); never another internal package, the
// admin API types or a database driver.
func TestDeps(t *testing.T) {
	deps := depstest.Deps(t)
	var kith []string
	for _, d := range deps {
		switch d {
		case "github.com/kith-dev/kith/sdk/oauth", "github.com/kith-dev/kith/sdk/oauth/workload",
			"github.com/kith-dev/kith/internal/oauthclient", "github.com/kith-dev/kith/internal/oauthclient/workload",
			"github.com/kith-dev/kith/internal/authn":
		default:
			kith = append(kith, d)
		}
	}
	depstest.Forbid(t, kith, []string{"github.com/kith-dev/kith/internal", "github.com/kith-dev/kith/api"}, depstest.SQLDrivers)
}
