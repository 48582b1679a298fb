package workload_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDeps keeps Kith's server side out of the workload package: it may
// pull in go-spiffe and gRPC, and of Kith's internal packages only the
// light ones sdk/oauth is the public face of (internal/oauthclient and its
// workload subpackage, and internal/authn; sdk/oauth's TestDeps pins
// them); never another internal package, the admin API types or a
// database driver.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	allowed := []string{
		"github.com/kith-dev/kith/internal/oauthclient",
		"github.com/kith-dev/kith/internal/oauthclient/workload",
		"github.com/kith-dev/kith/internal/authn",
	}
	forbidden := []string{"github.com/kith-dev/kith/internal", "github.com/kith-dev/kith/api", "modernc.org/", "github.com/jackc/"}
	for _, dep := range strings.Fields(string(out)) {
		if slices.Contains(allowed, dep) {
			continue
		}
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("sdk/oauth/workload depends on %s", dep)
			}
		}
	}
}
