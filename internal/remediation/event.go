package remediation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strconv"

	"github.com/kith-dev/kith/internal/audit"
)

// Notification is what people are told of a step: the ledger event, with
// a one-line summary. Its JSON is the webhook's body.
type Notification struct {
	// ID is unique to the notification, the same on every attempt to
	// deliver it, so that a receiver can drop a repeat.
	ID string `json:"id"`
	// Summary says what happened in one line.
	Summary string `json:"summary"`
	// Event is the ledger event: type remediation.acted, .dry_run or
	// .skipped, the identity as target, the action, the outcome, the
	// caller's trust and the details (ladder, step, level, evidence,
	// guard, instances).
	Event audit.Event `json:"event"`
}

// event builds the ledger event of step i for identity id.
func (r *Remediator) event(typ, id string, ep *episode, i int, outcome audit.Outcome, ev evidence, what string, d map[string]string) audit.Event {
	l := ep.ladder
	s := &l.Steps[i]
	d["ladder"] = l.Name
	d["step"] = strconv.Itoa(i)
	d["step_level"] = s.Level.String()
	d["mode"] = string(l.Mode)
	d["trust_level"] = ep.level.String()
	d["evidence"] = ev.String()
	if s.After > 0 {
		d["after"] = s.After.String()
	}
	return audit.Event{
		Time: r.cfg.Clock(), Type: typ, Actor: Actor(), Target: id, Action: string(s.Action), Outcome: outcome,
		Trust:   &audit.Trust{Score: ep.trust.Score, Signals: slices.Clone(ep.trust.Signals)},
		Reason:  what,
		Details: d,
	}
}

// record writes ev to the ledger and tells the notifier; a follower
// records nothing.
func (r *Remediator) record(ctx context.Context, ev audit.Event) {
	if r.follower {
		return
	}
	if _, err := r.cfg.Auditor.Record(ctx, ev); err != nil {
		r.count(&r.stats.Unrecorded, 1)
		r.cfg.Logger.ErrorContext(ctx, "remediation: record event", "type", ev.Type, "identity", ev.Target, "error", err)
	}
	if r.cfg.Notifier != nil {
		r.cfg.Notifier.Notify(Notification{ID: newID(), Summary: summary(ev), Event: ev})
	}
}

// summary is the one line people read first.
func summary(ev audit.Event) string {
	s := ev.Target + ": " + ev.Reason + " (ladder " + ev.Details["ladder"] + ", step " + ev.Details["step"] + " " + ev.Action +
		", trust " + ev.Details["trust_level"]
	if ev.Trust != nil {
		s += " " + strconv.Itoa(ev.Trust.Score)
	}
	return s + ")"
}

// newID returns a random identifier for a notification.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// tally counts a step of the kind c counts, unless this is a follower.
func (r *Remediator) tally(c *int64) {
	if !r.follower {
		r.count(c, 1)
	}
}
