package trusthost

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

// pageSize is how many ledger events one read takes.
const pageSize = 1000

// Run restores the engine from the latest snapshot and then, until ctx
// is done, reads the ledger (when woken, and every PollInterval), ticks
// the engine, keeps or seeks the lease, writes findings and saves
// snapshots as leader. At the end the leader saves a last snapshot. It
// returns an error only if the snapshot cannot be read at start; later
// failures are logged and retried.
func (h *Host) Run(ctx context.Context) error {
	if err := h.restore(ctx); err != nil {
		return err
	}
	h.lease(ctx)
	poll := time.NewTicker(h.cfg.PollInterval)
	defer poll.Stop()
	tick := time.NewTicker(h.cfg.TickInterval)
	defer tick.Stop()
	lease := time.NewTicker(h.cfg.LeaseTTL / 3)
	defer lease.Stop()
	for {
		select {
		case <-ctx.Done():
			h.stop(context.WithoutCancel(ctx))
			return nil
		case <-h.wake:
		case <-poll.C:
		case <-tick.C:
			h.engine.Tick()
		case <-lease.C:
			h.lease(ctx)
		}
		h.read(ctx)
		h.flush(ctx)
		h.maybeSnapshot(ctx)
	}
}

// stop saves what is pending and a last snapshot, within five seconds.
func (h *Host) stop(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	h.flush(ctx)
	if h.leader.Load() {
		if err := h.snapshot(ctx); err != nil {
			h.cfg.Logger.Warn("trust: last snapshot", "error", err)
		}
	}
}

// read applies the ledger's events after the cursor, page by page.
func (h *Host) read(ctx context.Context) {
	for ctx.Err() == nil {
		after := h.applied.Load()
		rows, err := h.cfg.Store.ListEvents(ctx, store.EventFilter{After: after, Limit: pageSize})
		if err != nil {
			if ctx.Err() == nil {
				h.cfg.Logger.Warn("trust: reading the ledger; retrying", "error", err)
			}
			return
		}
		for i := range rows {
			h.apply(&rows[i])
		}
		if len(rows) > 0 {
			h.applied.Store(rows[len(rows)-1].Index)
			h.stats.observed.Add(int64(len(rows)))
			h.mu.Lock()
			close(h.progress)
			h.progress = make(chan struct{})
			h.mu.Unlock()
		}
		if len(rows) < pageSize {
			h.stats.behind.Store(0)
			return
		}
		h.stats.behind.Store(pageSize)
		h.flush(ctx) // a long catch-up still pushes as it goes
	}
}

// apply applies one ledger event to the engine.
func (h *Host) apply(row *store.Event) {
	switch row.Type {
	case audit.TypeCallDecided, audit.TypeTrustCleared, audit.TypeTrustContextAdded, audit.TypeTrustContextRemoved,
		audit.TypeOAuthClientSecretLeaked:
	default:
		return
	}
	var ev audit.Event
	if err := json.Unmarshal(row.Body, &ev); err != nil {
		h.cfg.Logger.Warn("trust: unreadable ledger event skipped", "index", row.Index, "error", err)
		return
	}
	var err error
	switch row.Type {
	case audit.TypeCallDecided:
		c := callOf(&ev)
		h.engine.Observe(&c)
		if _, ok := h.announced[c.Caller]; !ok && c.Caller != "" {
			h.announce(c.Caller)
		}
	case audit.TypeTrustCleared:
		_, err = h.engine.Clear(ev.Target, ev.Actor.ID)
	case audit.TypeTrustContextAdded:
		err = h.engine.AddContext(contextOf(&ev))
	case audit.TypeTrustContextRemoved:
		err = h.engine.RemoveContext(ev.Target, ev.Details["id"])
	case audit.TypeOAuthClientSecretLeaked:
		if in, ok := leakContextOf(&ev); ok {
			err = h.engine.AddContext(in)
		}
	}
	if err != nil {
		h.cfg.Logger.Debug("trust: ledger event not applied", "index", row.Index, "type", row.Type, "error", err)
	}
}

// announce pushes the state of a caller this Host has not pushed yet:
// the engine reports no Change for a caller it starts tracking (its
// state is its credential's starting one), but the data planes, which
// give unlisted callers the starting state of an unknown credential,
// must learn it. Once per caller and process; the set is bounded by the
// engine's MaxCallers in practice (an evicted caller stays in it).
func (h *Host) announce(identity string) {
	h.announced[identity] = struct{}{}
	st := h.engine.State(identity)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rev++
	h.log = append(h.log, logEntry{rev: h.rev, entry: agentproto.TrustEntry{ID: identity, Score: st.Trust.Score, Signals: st.Trust.Signals}})
	h.pushed = true
}

// flush writes the queued findings to the ledger (as leader), tells
// OnChange and wakes the hub.
func (h *Host) flush(ctx context.Context) {
	callers := h.engine.Stats().Callers // before h.mu: the sink takes h.mu under the engine's lock
	h.mu.Lock()
	evs, changes, pushed := h.events, h.changes, h.pushed
	h.events, h.changes, h.pushed = nil, nil, false
	h.trimLog(callers)
	h.mu.Unlock()
	if len(evs) > 0 && h.leader.Load() {
		if _, err := h.cfg.Ledger.RecordAll(ctx, evs); err != nil {
			h.cfg.Logger.Error("trust: recording findings; retrying", "events", len(evs), "error", err)
			h.mu.Lock()
			h.events = append(evs, h.events...)
			h.mu.Unlock()
		} else {
			h.stats.events.Add(int64(len(evs)))
			h.wroteSince = true
		}
	}
	if len(changes) == 0 && !pushed {
		return
	}
	if h.cfg.Notify != nil {
		h.cfg.Notify()
	}
	if h.cfg.OnChange != nil && len(changes) > 0 {
		h.cfg.OnChange(changes)
	}
}

// lease takes or renews the lease, or notes that another replica holds
// it.
func (h *Host) lease(ctx context.Context) {
	now := h.cfg.Clock()
	data, version, err := h.cfg.Store.GetBlob(ctx, LeaseBlob)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.cfg.Logger.Warn("trust: reading the lease", "error", err)
		h.leader.Store(false)
		return
	}
	var cur leaseData
	if err == nil {
		_ = json.Unmarshal(data, &cur)
		if cur.Holder != h.cfg.Replica && now.Before(cur.Until) {
			h.leader.Store(false)
			return
		}
	}
	next, _ := json.Marshal(leaseData{Holder: h.cfg.Replica, Until: now.Add(h.cfg.LeaseTTL)})
	if _, err := h.cfg.Store.PutBlob(ctx, LeaseBlob, next, version); err != nil {
		if !errors.Is(err, store.ErrConflict) && ctx.Err() == nil {
			h.cfg.Logger.Warn("trust: taking the lease", "error", err)
		}
		h.leader.Store(false)
		return
	}
	if !h.leader.Swap(true) {
		h.cfg.Logger.Info("trust: this replica leads the trust engine", "replica", h.cfg.Replica)
	}
}

// leaseData is the lease blob.
type leaseData struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

// maybeSnapshot saves a snapshot as leader when one is due.
func (h *Host) maybeSnapshot(ctx context.Context) {
	if !h.leader.Load() {
		return
	}
	since := h.cfg.Clock().Sub(h.lastSnap)
	if since < h.cfg.SnapshotInterval && !(h.wroteSince && since >= h.cfg.SnapshotInterval/6) {
		return
	}
	if err := h.snapshot(ctx); err != nil && ctx.Err() == nil {
		h.cfg.Logger.Warn("trust: saving a snapshot", "error", err)
	}
}

// snapshotMagic starts a snapshot blob; the next line is the index of
// the last ledger event the snapshot includes, then the engine's
// snapshot, gzipped.
const snapshotMagic = "kith-trust-snapshot 1\n"

// snapshot saves the engine's state with the cursor it is at.
func (h *Host) snapshot(ctx context.Context) error {
	var buf bytes.Buffer
	buf.WriteString(snapshotMagic)
	buf.WriteString(strconv.FormatInt(h.applied.Load(), 10) + "\n")
	zw := gzip.NewWriter(&buf)
	if err := h.engine.WriteSnapshot(zw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	v, err := h.cfg.Store.PutBlob(ctx, SnapshotBlob, buf.Bytes(), h.snapVersion)
	if errors.Is(err, store.ErrConflict) {
		// Another leader saved meanwhile: save over its newer version.
		if _, h.snapVersion, err = h.cfg.Store.GetBlob(ctx, SnapshotBlob); err == nil {
			v, err = h.cfg.Store.PutBlob(ctx, SnapshotBlob, buf.Bytes(), h.snapVersion)
		}
	}
	if err != nil {
		return err
	}
	h.snapVersion, h.lastSnap, h.wroteSince = v, h.cfg.Clock(), false
	h.stats.snapshots.Add(1)
	return nil
}

// restore reads the latest snapshot into the engine and sets the cursor
// to it. Without one, it saves the fresh engine's (so that every replica
// adopts one hash seed) and starts at the ledger's end.
func (h *Host) restore(ctx context.Context) error {
	data, version, err := h.cfg.Store.GetBlob(ctx, SnapshotBlob)
	if errors.Is(err, store.ErrNotFound) {
		start, err := h.cfg.Start(ctx)
		if err != nil {
			return fmt.Errorf("trust: ledger end: %w", err)
		}
		h.applied.Store(start)
		var buf bytes.Buffer
		buf.WriteString(snapshotMagic + strconv.FormatInt(start, 10) + "\n")
		zw := gzip.NewWriter(&buf)
		if err := h.engine.WriteSnapshot(zw); err != nil {
			return fmt.Errorf("trust: first snapshot: %w", err)
		}
		_ = zw.Close() // to a buffer: cannot fail
		if _, err = h.cfg.Store.PutBlob(ctx, SnapshotBlob, buf.Bytes(), 0); errors.Is(err, store.ErrConflict) {
			return h.restore(ctx) // another replica saved first: adopt its seed
		}
		if err != nil {
			return fmt.Errorf("trust: first snapshot: %w", err)
		}
		h.snapVersion, h.lastSnap = 1, h.cfg.Clock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("trust: read snapshot: %w", err)
	}
	cursor, engine, err := parseSnapshot(data)
	if err != nil {
		return fmt.Errorf("trust: snapshot: %w", err)
	}
	if err := h.engine.ReadSnapshot(engine); err != nil {
		return fmt.Errorf("trust: snapshot: %w", err)
	}
	h.applied.Store(cursor)
	h.snapVersion, h.lastSnap = version, h.cfg.Clock()
	h.mu.Lock()
	h.resetLog()
	h.mu.Unlock()
	return nil
}

// parseSnapshot splits a snapshot blob into its cursor and the engine's
// snapshot.
func parseSnapshot(data []byte) (int64, io.Reader, error) {
	r := bufio.NewReader(bytes.NewReader(data))
	magic, err := r.ReadString('\n')
	if err != nil || magic != snapshotMagic {
		return 0, nil, errors.New("not a trust snapshot")
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, nil, errors.New("no cursor")
	}
	cursor, err := strconv.ParseInt(line[:len(line)-1], 10, 64)
	if err != nil || cursor < -1 {
		return 0, nil, errors.New("bad cursor")
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return 0, nil, err
	}
	return cursor, zr, nil
}
