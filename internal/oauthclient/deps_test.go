package oauthclient_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/depstest"
)

// TestDeps pins that the token source stays light enough for the SDK to
// link: the standard library, go-jose and go-spiffe's SVID types only.
func TestDeps(t *testing.T) {
	depstest.Allow(t, depstest.Deps(t),
		"github.com/kith-dev/kith/internal/oauthclient",
		"github.com/go-jose/go-jose/v4",
		"github.com/spiffe/go-spiffe/v2/spiffeid",
		"github.com/spiffe/go-spiffe/v2/svid/jwtsvid",
		"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle",
		"github.com/spiffe/go-spiffe/v2/internal/cryptoutil",
		"github.com/spiffe/go-spiffe/v2/internal/jwtutil",
	)
}
