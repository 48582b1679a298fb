// Package depstest lets a test pin what a package links, directly or not,
// so that a light package (an agent, a proxy, a wire package) stays light:
// a new import of something heavy fails the build's tests, not a review.
//
// It is for tests only; it runs `go list` and must not be imported by
// non-test code.
package depstest

import (
	"os/exec"
	"strings"
	"testing"
)

// ServerSide are the packages of the control plane and its storage: a
// package that node agents, proxies or the SDK link must not link any of
// them, nor the SQL drivers in [SQLDrivers].
var ServerSide = []string{
	"github.com/kith-dev/kith/internal/server",
	"github.com/kith-dev/kith/internal/synchub",
	"github.com/kith-dev/kith/internal/store",
	"github.com/kith-dev/kith/internal/ledger",
	"github.com/kith-dev/kith/internal/ca",
	"github.com/kith-dev/kith/internal/nodes",
	"github.com/kith-dev/kith/internal/registry",
}

// Verification are the third-party packages that the light
// verification and token-source code (internal/authn,
// internal/oauthclient, the public sdk/oauth) may link: go-jose and
// go-spiffe's ID, SVID, bundle and TLS configuration types, with the
// internal helpers of go-spiffe they use. No gRPC, no Workload API client.
var Verification = []string{
	"github.com/go-jose/go-jose/v4",
	"github.com/spiffe/go-spiffe/v2/spiffeid",
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid",
	"github.com/spiffe/go-spiffe/v2/svid/x509svid",
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle",
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle",
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig",
	"github.com/spiffe/go-spiffe/v2/internal/cryptoutil",
	"github.com/spiffe/go-spiffe/v2/internal/jwtutil",
	"github.com/spiffe/go-spiffe/v2/internal/pemutil",
	"github.com/spiffe/go-spiffe/v2/internal/x509util",
}

// SQLDrivers are the database drivers the store links.
var SQLDrivers = []string{
	"modernc.org/sqlite",
	"github.com/jackc/pgx",
}

// Deps returns the import paths of the packages outside the standard
// library that the package in the test's working directory links,
// itself included. It skips t when `go list` cannot run.
func Deps(t testing.TB) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// Forbid fails t for each of deps that is one of forbidden or a package
// under one of them.
func Forbid(t testing.TB, deps []string, forbidden ...[]string) {
	t.Helper()
	for _, dep := range deps {
		for _, list := range forbidden {
			if p, ok := under(dep, list); ok {
				t.Errorf("links %s (via %s), which it must never do", dep, p)
			}
		}
	}
}

// Allow fails t for each of deps that is neither one of allowed nor a
// package under one of them.
func Allow(t testing.TB, deps []string, allowed ...string) {
	t.Helper()
	for _, dep := range deps {
		if _, ok := under(dep, allowed); !ok {
			t.Errorf("links %s, which is not allowed", dep)
		}
	}
}

// under returns the entry of list that dep is or lies under.
func under(dep string, list []string) (string, bool) {
	for _, p := range list {
		if dep == p || strings.HasPrefix(dep, p+"/") {
			return p, true
		}
	}
	return "", false
}
