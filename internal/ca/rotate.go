package ca

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

const (
	maxCASAttempts = 5
	maxPlanSteps   = 4
)

// Rotate performs the key rotation steps due at the current time:
//
//   - when the active key has passed half of its lifetime and no key is
//     prepared, it creates a prepared key and publishes it in the bundle;
//   - when the active key has passed five sixths of its lifetime, has
//     expired, or no longer fits the configuration (an upstream was added,
//     removed or re-rooted), the prepared key (or, failing one, a new key)
//     becomes active and the active key becomes old;
//   - a key that is not active is retired, leaving journal and bundle,
//     once its NotAfter has passed, when no SVID it signed is still valid.
//
// Each change is written to the journal with compare-and-swap; when another
// replica wrote first, Rotate reloads the journal and re-evaluates. Changes
// are recorded with the Auditor as "ca.key.prepared", "ca.key.activated"
// and "ca.key.retired". Rotate returns an error if the journal cannot be
// read or written, if it stays contended, if key generation fails, or if
// the Auditor fails (the change is then already in effect).
func (c *CA) Rotate(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rotateLocked(ctx)
}

func (c *CA) rotateLocked(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		cur := c.cur.Load()
		now := c.cfg.Clock()
		next, events, err := c.plan(cur, now)
		if err != nil || next == nil {
			return err
		}
		data, err := c.encodeJournal(next)
		if err != nil {
			return err
		}
		version, err := c.cfg.Journal.PutBlob(ctx, journalBlob, data, cur.version)
		if errors.Is(err, store.ErrConflict) && attempt < maxCASAttempts {
			c.cfg.Logger.DebugContext(ctx, "ca journal changed by another writer; re-evaluating")
			if err := c.reloadLocked(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("ca: write journal: %w", err)
		}
		next.version = version
		c.publish(next)
		var errs []error
		for _, ev := range events {
			ev.Details["bundle_sequence"] = strconv.FormatUint(next.seq, 10)
			c.cfg.Logger.InfoContext(ctx, "ca key "+ev.Action, "event", ev.Type, "key_id", ev.Details["key_id"], "bundle_sequence", next.seq)
			if _, err := c.cfg.Auditor.Record(ctx, ev); err != nil {
				errs = append(errs, fmt.Errorf("ca: audit %s: %w", ev.Type, err))
			}
		}
		return errors.Join(errs...)
	}
}

// plan computes the state that follows cur at now, with the events that
// lead there; it returns a nil state if nothing is to change. It repeats
// the rotation step until nothing changes, so that a CA that was down for a
// long time catches up in one journal write.
func (c *CA) plan(cur *state, now time.Time) (*state, []audit.Event, error) {
	slots := cur.slots
	var events []audit.Event
	for range maxPlanSteps {
		next, evs, err := c.step(slots, now)
		if err != nil {
			return nil, nil, err
		}
		if len(evs) == 0 {
			break
		}
		slots, events = next, append(events, evs...)
	}
	digest := digestOf(c.bundleContent(slots))
	if len(events) == 0 && digest == cur.digest {
		return nil, nil, nil
	}
	seq := cur.seq
	if digest != cur.digest {
		seq++
	}
	return c.buildState(slots, seq, digest, cur.version), events, nil
}

// step applies one round of the rotation rules to slots.
func (c *CA) step(in []*slot, now time.Time) ([]*slot, []audit.Event, error) {
	var (
		out      []*slot
		events   []audit.Event
		active   *slot
		prepared *slot
	)
	for _, s := range in {
		switch {
		case s.status != statusActive && !now.Before(s.notAfter()):
			events = append(events, c.event(now, audit.TypeCAKeyRetired, "retire", s, "expired"))
		case s.status == statusPrepared && !c.fits(s, now):
			events = append(events, c.event(now, audit.TypeCAKeyRetired, "retire", s, "does not fit the configuration"))
		default:
			out = append(out, s)
			switch s.status {
			case statusActive:
				active = s
			case statusPrepared:
				prepared = s
			}
		}
	}
	switch {
	case active == nil || !now.Before(activateAt(active)) || !c.fits(active, now):
		next := prepared
		if next == nil {
			var err error
			if next, err = c.newSlot(now, statusActive); err != nil {
				return nil, nil, err
			}
			out = append(out, next)
		}
		out = replace(out, next, next.withStatus(statusActive))
		ev := c.event(now, audit.TypeCAKeyActivated, "activate", next, "")
		events = append(events, ev)
		if active != nil {
			ev.Details["previous_key_id"] = string(active.id)
			if now.Before(active.notAfter()) {
				out = replace(out, active, active.withStatus(statusOld))
			} else {
				out = replace(out, active, nil)
				events = append(events, c.event(now, audit.TypeCAKeyRetired, "retire", active, "expired"))
			}
		}
	case prepared == nil && !now.Before(prepareAt(active)):
		s, err := c.newSlot(now, statusPrepared)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s)
		events = append(events, c.event(now, audit.TypeCAKeyPrepared, "prepare", s, ""))
	}
	return out, events, nil
}

// fits reports whether s can sign under the current configuration: a
// self-signed CA needs a self-signed slot, an upstream CA a slot whose chain
// leads to the upstream roots.
func (c *CA) fits(s *slot, now time.Time) bool {
	u := c.cfg.Upstream
	if u == nil || s.root {
		return u == nil && s.root
	}
	opts := verifyOptions(u.Roots, s.chain[1:], now)
	_, err := s.cert.Verify(opts)
	return err == nil
}

func prepareAt(s *slot) time.Time {
	return s.notBefore().Add(s.notAfter().Sub(s.notBefore()) / 2)
}

func activateAt(s *slot) time.Time {
	return s.notBefore().Add(s.notAfter().Sub(s.notBefore()) / 6 * 5)
}

// replace returns slots with old swapped for repl, or removed if repl is nil.
func replace(slots []*slot, old, repl *slot) []*slot {
	out := make([]*slot, 0, len(slots))
	for _, s := range slots {
		switch {
		case s != old:
			out = append(out, s)
		case repl != nil:
			out = append(out, repl)
		}
	}
	return out
}

func (c *CA) event(now time.Time, typ, action string, s *slot, reason string) audit.Event {
	return audit.Event{
		Time:    now,
		Type:    typ,
		Actor:   audit.SystemActor(),
		Target:  c.td.IDString(),
		Action:  action,
		Outcome: audit.OutcomeSuccess,
		Reason:  reason,
		Details: map[string]string{
			"key_id":     string(s.id),
			"not_before": s.notBefore().Format(time.RFC3339),
			"not_after":  s.notAfter().Format(time.RFC3339),
		},
	}
}

// Run calls Reload and Rotate periodically (every CATTL/100, between 1s and
// 10s) until ctx is done, then returns nil. Errors are logged and retried
// at the next tick.
func (c *CA) Run(ctx context.Context) error {
	t := time.NewTicker(min(max(c.cfg.CATTL/100, time.Second), 10*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := c.Reload(ctx); err != nil {
			c.cfg.Logger.ErrorContext(ctx, "ca: reload journal", "err", err)
		}
		if err := c.Rotate(ctx); err != nil {
			c.cfg.Logger.ErrorContext(ctx, "ca: rotate", "err", err)
		}
	}
}
