package authn_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins that the verification checks stay light: the token
// service, the enforcer, the agent and the public SDK all link them, so
// they may use the standard library, go-jose and go-spiffe's SVID, bundle
// and TLS configuration types, and nothing of Kith's.
func TestDeps(t *testing.T) {
	depstest.Allow(t, depstest.Deps(t),
		"github.com/kith-dev/kith/internal/authn",
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
	)
}
