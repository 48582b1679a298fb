package agent

import "github.com/spiffe/go-spiffe/v2/svid/x509svid"

// ChangedForTest returns a channel closed when what Status reports may
// next have changed: the connection, the identity, the cache (entries,
// bundles, revocations), the SVIDs held or their watchers.
func (a *Agent) ChangedForTest() <-chan struct{} { return a.changed.wait() }

// RotationPassForTest returns a channel closed when the SVID rotation task
// next ends a pass.
func (a *Agent) RotationPassForTest() <-chan struct{} { return a.svids.passes.wait() }

// HeldSVIDForTest returns the X509-SVID the agent holds for an entry, or
// nil.
func (a *Agent) HeldSVIDForTest(entryID string) *x509svid.SVID { return a.svids.held(entryID) }
