package workload_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps Kith's server side out of the workload package: it may
// pull in go-spiffe and gRPC, and internal/authn (the light verification
// checks sdk/oauth is the public face of, pinned by sdk/oauth's TestDeps),
// never Kith's other internal packages or a database driver.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"github.com/kith-dev/kith/internal", "github.com/kith-dev/kith/api", "modernc.org/", "github.com/jackc/"}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/kith-dev/kith/internal/authn" {
			continue
		}
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("sdk/oauth/workload depends on %s", dep)
			}
		}
	}
}
