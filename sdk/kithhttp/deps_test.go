package kithhttp_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDeps pins what the middleware may import, directly or not: the
// standard library, go-spiffe, go-jose, CEL (for policies) and the
// Prometheus client (for the shared proxy telemetry), and Kith's
// request-path packages. A service that links it must never pull in
// Kith's server or agent.
//
// knownHeavy are packages it should not import either but does today;
// when an edge to one is cut, the test fails until its entry is removed
// here. It is empty now: the policy set's control-plane side lives in
// internal/policyset, the revocation set's store adapter in
// internal/revocation/revocationstore, and the signed revocation batch in
// internal/agentproto (the agent protocol, apart from the server's hub in
// internal/synchub), so that neither the store (nor its SQL drivers), the
// ledger, the CA nor the sync hub is linked. The call record the
// middleware reports (internal/callrecord) and the event vocabulary it
// maps to (internal/audit) are light: standard library and spiffeid; so
// is the trust engine (internal/trust), whose Index the view holds.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	allowed := []string{
		"github.com/kith-dev/kith/sdk/kithhttp",
		"github.com/kith-dev/kith/sdk/oauth",
		"github.com/kith-dev/kith/internal/agentproto",
		"github.com/kith-dev/kith/internal/audit",
		"github.com/kith-dev/kith/internal/authn",
		"github.com/kith-dev/kith/internal/callrecord",
		"github.com/kith-dev/kith/internal/dataplane",
		"github.com/kith-dev/kith/internal/enforce",
		"github.com/kith-dev/kith/internal/oauthclient",
		"github.com/kith-dev/kith/internal/policy",
		"github.com/kith-dev/kith/internal/proxy",
		"github.com/kith-dev/kith/internal/revocation",
		"github.com/kith-dev/kith/internal/signeddoc",
		// The trust engine's Index, which the data-plane view holds
		// (internal/trust imports only std, policy, callrecord and audit;
		// its own deps test pins that).
		"github.com/kith-dev/kith/internal/trust",
		"github.com/go-jose/go-jose/v4",
		"github.com/spiffe/go-spiffe/v2",
		// CEL, for policy conditions.
		"cel.dev/cel-go", "cel.dev/expr", "github.com/antlr4-go/antlr/v4",
		"google.golang.org/protobuf", "google.golang.org/genproto/googleapis",
		"golang.org/x/exp", "golang.org/x/text", "go.yaml.in/yaml/v3",
		// The Prometheus client, for the proxy's telemetry.
		"github.com/prometheus/client_golang", "github.com/prometheus/client_model",
		"github.com/prometheus/common", "github.com/prometheus/procfs",
		"github.com/beorn7/perks", "github.com/cespare/xxhash/v2", "github.com/munnerz/goautoneg",
		"golang.org/x/sys/unix",
	}
	// knownHeavy is empty: nothing heavy is linked today.
	var knownHeavy []string
	under := func(dep string, list []string) (string, bool) {
		for _, p := range list {
			if dep == p || strings.HasPrefix(dep, p+"/") {
				return p, true
			}
		}
		return "", false
	}
	seen := map[string]bool{}
	for _, dep := range deps {
		if _, ok := under(dep, allowed); ok {
			continue
		}
		if p, ok := under(dep, knownHeavy); ok {
			seen[p] = true
			continue
		}
		t.Errorf("sdk/kithhttp depends on %s, which is not allowed", dep)
	}
	// The never-list holds even if someone widens the lists above.
	for _, never := range []string{
		"github.com/kith-dev/kith/internal/server",
		"github.com/kith-dev/kith/internal/agent",
		"github.com/kith-dev/kith/internal/synchub",
		"github.com/kith-dev/kith/internal/store",
		"github.com/kith-dev/kith/internal/ledger",
		"modernc.org/sqlite",
		"github.com/jackc/pgx",
		"google.golang.org/grpc",
	} {
		if slices.ContainsFunc(deps, func(d string) bool { return d == never || strings.HasPrefix(d, never+"/") }) {
			t.Errorf("sdk/kithhttp depends on %s, which it must never do", never)
		}
	}
	for _, p := range knownHeavy {
		if !seen[p] {
			t.Errorf("sdk/kithhttp no longer depends on %s: remove it from knownHeavy", p)
		}
	}
}
