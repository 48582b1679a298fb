package authn_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps pins what authn may import, directly or not: the standard
// library, go-jose and go-spiffe. The public SDK links it, so it must stay
// as light as the SDK.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	allowed := []string{
		"github.com/kith-dev/kith/internal/authn",
		"github.com/go-jose/go-jose/v4",
		"github.com/spiffe/go-spiffe/v2",
	}
	for _, dep := range strings.Fields(string(out)) {
		ok := false
		for _, a := range allowed {
			ok = ok || dep == a || strings.HasPrefix(dep, a+"/")
		}
		if !ok {
			t.Errorf("internal/authn depends on %s, which is not allowed", dep)
		}
	}
}
