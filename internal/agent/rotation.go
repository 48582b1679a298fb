package agent

import (
	"context"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/agentproto"
)

// pruneRevocationsEvery is how often expired revocations are dropped.
const pruneRevocationsEvery = time.Minute

// dueSVID is an entry whose SVID must be minted again, and why.
type dueSVID struct {
	entry  agentproto.Entry
	reason string
}

// run returns the rotation task: on every change of the state and at
// least every tick it drops SVIDs no longer needed and replaces those that
// are due (half-life reached), revoked, outdated (the entry changed) or no
// longer chain to the bundle (the CA rotated), retrying failures with
// backoff.
func (c *svidCache) run(tick, idle time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		bo := backoff{base: time.Second, max: 30 * time.Second}
		var retryAt, lastPrune time.Time
		for {
			wake := c.state.changes.wait()
			now := c.clock()
			if now.Sub(lastPrune) >= pruneRevocationsEvery {
				c.state.pruneRevocations(ctx)
				lastPrune = now
			}
			if due := c.due(now, idle); len(due) > 0 && !now.Before(retryAt) {
				if err := c.replace(ctx, due); err != nil && ctx.Err() == nil {
					d := bo.next()
					retryAt = c.clock().Add(d)
					c.logger.Error("renew workload SVIDs", "error", err, "count", len(due), "retry_in", d)
				} else {
					bo.reset()
				}
			}
			c.passes.notify()
			t := time.NewTimer(tick)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-wake:
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// replace mints new SVIDs for due entries, grouped by reason.
func (c *svidCache) replace(ctx context.Context, due []dueSVID) error {
	c.mintMu.Lock()
	defer c.mintMu.Unlock()
	byReason := map[string][]agentproto.Entry{}
	for _, d := range due {
		byReason[d.reason] = append(byReason[d.reason], d.entry)
		c.logger.Debug("replacing workload SVID", "entry_id", d.entry.ID, "spiffe_id", d.entry.SPIFFEID, "reason", d.reason)
	}
	var first error
	for reason, entries := range byReason {
		if err := c.mint(ctx, entries, reason); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// due drops the records of entries that are gone, inactive or idle (no
// watcher for longer than idle, and only while the server can be reached:
// offline, an idle SVID is kept for a workload that comes back), and returns the entries whose SVID must be
// replaced now.
func (c *svidCache) due(now time.Time, idle time.Duration) []dueSVID {
	bundle := c.state.ownBundle()
	online := c.online == nil || c.online()
	c.mu.Lock()
	var out []dueSVID
	dropped := false
	for id, r := range c.records {
		e, ok := c.state.entry(id)
		idleFor := now.Sub(c.lastUsed[id])
		if !ok || !isActive(e) || (online && c.watchers[id] == 0 && idleFor > idle) {
			delete(c.records, id)
			dropped = true
			continue
		}
		reason := c.stale(r, e)
		switch {
		case reason != "":
		case !now.Before(r.leaf().NotAfter):
			reason = "expired"
		case !now.Before(r.renewAt):
			reason = "renew"
		case bundle != nil && bundle != r.bundle:
			if _, _, err := x509svid.Verify(r.svid.Certificates, bundle, x509svid.WithTime(now)); err != nil {
				reason = "bundle"
			} else {
				r.bundle = bundle
			}
		}
		if reason != "" {
			out = append(out, dueSVID{entry: e, reason: reason})
		}
	}
	for id, t := range c.lastUsed {
		if c.records[id] == nil && c.watchers[id] == 0 && now.Sub(t) > idle {
			delete(c.lastUsed, id)
		}
	}
	n := len(c.records)
	c.mu.Unlock()
	if dropped {
		c.persist()
		c.metrics.svidsHeld.Set(float64(n))
		c.state.changes.notify()
	}
	return out
}
