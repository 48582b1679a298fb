package server

import (
	"time"

	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/trust"
)

// How a leaked client secret weighs on its entry's trust (see
// [LeakContext]). A caller authenticated by a client secret starts at
// 600: a leak still live takes it to 100 (untrusted) until the secret is
// revoked or the input expires; a revoked one to 450 (low) for a week;
// one that had expired before it was found to 540 (medium).
const (
	LeakWeightLive    = 500
	LeakWeightRevoked = 150
	LeakWeightExpired = 60
	LeakTTLLive       = 30 * 24 * time.Hour
	LeakTTLRevoked    = 7 * 24 * time.Hour
)

// LeakContext is the trust engine's context input for a leak: it weighs
// on the SPIFFE ID of the entry the client acts for, is of kind "leak"
// and source "kith scan", and its ID names the client and secret, so that
// a later report of the same secret (revoked this time) replaces it. It
// reports false for a leak without an entry (deleted since), which has
// no one to weigh on. The trust wiring's LeakObserver adds it with
// Engine.AddContext.
func LeakContext(l oauth.Leak) (trust.ContextInput, bool) {
	if l.SPIFFEID == "" {
		return trust.ContextInput{}, false
	}
	in := trust.ContextInput{
		ID:       "leak:" + string(l.ClientID) + ":" + l.SecretID,
		Identity: l.SPIFFEID,
		Kind:     "leak",
		Source:   "kith scan",
		Reason:   "client secret " + l.SecretID + " of " + string(l.ClientID) + " found at " + l.Location,
		Weight:   LeakWeightExpired,
		Expires:  l.At.Add(LeakTTLRevoked),
	}
	if l.Commit != "" {
		in.Reason += " (commit " + l.Commit[:min(len(l.Commit), 12)] + ")"
	}
	switch {
	case l.Live && !l.Revoked:
		in.Reason += ", still live"
		in.Weight, in.Expires = LeakWeightLive, l.At.Add(LeakTTLLive)
	case l.Revoked:
		in.Reason += ", revoked"
		in.Weight = LeakWeightRevoked
	default:
		in.Reason += ", expired before"
	}
	return in, true
}
