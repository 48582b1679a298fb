package remediation

import (
	"context"
	"time"

	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/trust"
)

// An episode is one stretch of a caller's trust at or below its ladder's
// ceiling (the highest level of its steps): each step is taken at most
// once in it. It ends when the caller's trust rises above the ceiling; a
// later fall starts a new one (cooldowns still apply).

// numLevels is the number of trust levels.
const numLevels = int(trust.LevelHigh) + 1

// episode is the ladder's state for one caller.
type episode struct {
	ladder  *compiled
	trust   policy.Trust
	level   trust.Level
	reasons []trust.Reason
	// since holds, per level, when the caller went at or below it in
	// this episode; zero while it is above.
	since [numLevels]time.Time
	// done has a bit per step taken (or recorded, or given up on).
	done uint32
	// held is the guard that last held each step back, so that each is
	// recorded once while it holds.
	held []string
	// tries counts the failed attempts of each step.
	tries []uint8
	// retryAt is when a failed step may be tried again.
	retryAt []time.Time
}

// process applies the queued changes.
func (r *Remediator) process(ctx context.Context) {
	r.follower = r.cfg.Active != nil && !r.cfg.Active()
	r.mu.Lock()
	pending, creds := r.pending, r.creds
	r.pending, r.creds = map[string]update{}, map[string][]string{}
	r.mu.Unlock()
	for id, cs := range creds {
		old, ok := r.recent[id]
		if !ok && len(r.recent) >= r.cfg.MaxPending {
			for k := range r.recent { // forget one at random
				delete(r.recent, k)
				break
			}
		}
		for _, c := range cs {
			old = addCred(old, c)
		}
		r.recent[id] = old
	}
	now := r.cfg.Clock()
	for id, u := range pending {
		r.apply(ctx, id, u, now)
	}
}

// tick re-evaluates every caller in an episode: delays and cooldowns
// may have run out, and States may know of a change that was dropped.
func (r *Remediator) tick(ctx context.Context) {
	r.process(ctx)
	now := r.cfg.Clock()
	for id, at := range r.lastAct {
		if now.Sub(at) > maxCooldown(r.ladders) {
			delete(r.lastAct, id)
		}
	}
	for id, ep := range r.episodes {
		u := update{trust: ep.trust, reasons: ep.reasons}
		if r.cfg.States != nil {
			s := r.cfg.States.State(id)
			u = update{trust: s.Trust, reasons: s.Reasons}
		}
		r.apply(ctx, id, u, now)
	}
}

// apply updates identity's episode with its trust u and takes the steps
// that are due.
func (r *Remediator) apply(ctx context.Context, id string, u update, now time.Time) {
	ep := r.episodes[id]
	var l *compiled
	if ep != nil {
		l = ep.ladder
	} else if l = r.ladderFor(id); l == nil {
		return
	}
	level := trust.LevelOf(u.trust.Score)
	if level > l.ceiling {
		if ep != nil {
			delete(r.episodes, id)
			r.count(&r.stats.Episodes, -1)
		}
		return
	}
	if ep == nil {
		if len(r.episodes) >= r.cfg.MaxEpisodes {
			r.count(&r.stats.Overflow, 1)
			return
		}
		n := len(l.Steps)
		ep = &episode{ladder: l, held: make([]string, n), tries: make([]uint8, n), retryAt: make([]time.Time, n)}
		r.episodes[id] = ep
		r.count(&r.stats.Episodes, 1)
	}
	ep.trust, ep.level, ep.reasons = u.trust, level, u.reasons
	for lv := range numLevels {
		switch {
		case level > trust.Level(lv):
			ep.since[lv] = time.Time{}
		case ep.since[lv].IsZero():
			ep.since[lv] = now
		}
	}
	for i := range l.Steps {
		if ep.done&(1<<i) != 0 {
			continue
		}
		s := &l.Steps[i]
		if level > s.Level || now.Sub(ep.since[s.Level]) < s.After || now.Before(ep.retryAt[i]) {
			continue
		}
		r.take(ctx, id, ep, i, now)
	}
}

// maxCooldown returns the longest cooldown of the ladders.
func maxCooldown(ls []compiled) time.Duration {
	var d time.Duration
	for i := range ls {
		d = max(d, ls[i].Cooldown)
	}
	return d
}
