package agent

import "errors"

// Errors returned by [New] and [Agent.Run]; callers branch on them with
// errors.Is. The wrapped text says more, for operators.
var (
	// ErrEvicted means the server evicted this agent: it dropped its
	// identity, its cache and its workloads' SVIDs, and stopped. A new
	// join token is needed to attest again.
	ErrEvicted = errors.New("agent: evicted by the server")
	// ErrAttestationRefused means the server refused the join token:
	// unknown, already used or expired. The server's reason is wrapped.
	ErrAttestationRefused = errors.New("agent: the server refused attestation")
	// ErrNoIdentity means the agent has no usable identity (none in the
	// data folder, or an expired one) and no join token to obtain one.
	ErrNoIdentity = errors.New("agent: no identity and no join token")
	// ErrNoTrustBundle means a first start has neither a trust bundle to
	// verify the server with nor InsecureBootstrap.
	ErrNoTrustBundle = errors.New("agent: no trust bundle to verify the server")
)
