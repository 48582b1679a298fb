package oauth_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps pins what the SDK may import, directly or not: the standard
// library, go-jose, go-spiffe's SVID, ID, bundle and TLS configuration
// types, and Kith's light internal packages it is the public face of:
// internal/authn (the verification checks) and internal/oauthclient (the
// token source), so this test pins their dependencies too. A service that
// verifies tokens must not pull in Kith's server, gRPC or a database
// driver.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	allowed := []string{
		"github.com/kith-dev/kith/sdk/oauth",
		"github.com/kith-dev/kith/internal/authn",
		"github.com/kith-dev/kith/internal/oauthclient",
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
	for _, dep := range strings.Fields(string(out)) {
		ok := false
		for _, a := range allowed {
			ok = ok || dep == a || strings.HasPrefix(dep, a+"/")
		}
		if !ok {
			t.Errorf("sdk/oauth depends on %s, which is not allowed", dep)
		}
	}
}
