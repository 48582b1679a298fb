package agent

import (
	"testing"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// ChangedForTest returns a channel closed when what Status reports may
// next have changed: the connection, the identity, the cache (entries,
// bundles, revocations), the SVIDs held or their watchers.
func (a *Agent) ChangedForTest() <-chan struct{} { return a.changed.wait() }

// AwaitRotationPassForTest waits until the SVID rotation task has
// completed a whole pass begun after the call.
func (a *Agent) AwaitRotationPassForTest(tb testing.TB) {
	tb.Helper()
	a.awaitRotationPass(tb)
}

// HeldSVIDForTest returns the X509-SVID the agent holds for an entry, or
// nil.
func (a *Agent) HeldSVIDForTest(entryID string) *x509svid.SVID { return a.svids.held(entryID) }
