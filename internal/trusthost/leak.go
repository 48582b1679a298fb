package trusthost

import (
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/trust"
)

// How a leaked client secret weighs on the trust of the entry its client
// acts for. A caller authenticated by a client secret starts at 600: a
// leak still live takes it to 100 (untrusted) until the secret is revoked
// or the input expires; a revoked one to 450 (low) for a week; one that
// had expired before it was found to 540 (medium).
const (
	leakWeightLive    = 500
	leakWeightRevoked = 150
	leakWeightExpired = 60
	leakTTLLive       = 30 * 24 * time.Hour
	leakTTLRevoked    = 7 * 24 * time.Hour
)

// leakContextOf returns the context input of an oauth.client.secret_leaked
// event (kith scan's report of a client secret found outside Kith,
// recorded by the token service): kind "leak" on the SPIFFE ID of the
// entry the client acts for, its ID naming the client and secret so that
// a later report of the same secret (revoked this time) replaces it,
// dated from the event. It reports false for an event that names no
// client (a secret no client holds) or no entry (deleted since).
func leakContextOf(ev *audit.Event) (trust.ContextInput, bool) {
	d := ev.Details
	if ev.Outcome != audit.OutcomeSuccess || ev.Target == "" || d["spiffe_id"] == "" {
		return trust.ContextInput{}, false
	}
	in := trust.ContextInput{
		ID:       "leak:" + ev.Target + ":" + d["secret_id"],
		Identity: d["spiffe_id"],
		Kind:     "leak",
		Source:   "kith scan",
		Reason:   "client secret " + d["secret_id"] + " of " + ev.Target + " found at " + d["location"],
		Weight:   leakWeightExpired,
		Expires:  ev.Time.Add(leakTTLRevoked),
	}
	if c := d["commit"]; c != "" {
		in.Reason += " (commit " + c[:min(len(c), 12)] + ")"
	}
	switch {
	case d["revoked"] == "true":
		in.Reason += ", revoked"
		in.Weight = leakWeightRevoked
	case d["live"] == "true":
		in.Reason += ", still live"
		in.Weight, in.Expires = leakWeightLive, ev.Time.Add(leakTTLLive)
	default:
		in.Reason += ", expired before"
	}
	return in, true
}
