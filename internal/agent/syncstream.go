package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/kith-dev/kith/internal/agentproto"
)

// Causes that end a sync stream from the agent's side.
var (
	errDeadStream = errors.New("no message for twice the heartbeat interval")
	errReconnect  = errors.New("reconnecting with the renewed agent SVID")
)

// runSync keeps one sync stream open, reconnecting with exponential backoff
// and full jitter, until ctx is done or the server evicts the agent.
func (a *Agent) runSync(ctx context.Context) error {
	bo := backoff{base: a.backoffBase, max: a.backoffMax}
	for {
		applied, err := a.syncOnce(ctx)
		a.setConnected(false)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrEvicted) {
			return err
		}
		if applied {
			bo.reset()
		}
		d := bo.next()
		if errors.Is(err, errReconnect) {
			d = 0
		}
		a.metrics.reconnects.Inc()
		a.logger.Warn("sync stream ended; reconnecting", "error", err, "retry_in", d)
		if !sleep(ctx.Done(), d) {
			return nil
		}
	}
}

// setConnected records whether the sync stream is open.
func (a *Agent) setConnected(on bool) {
	a.connected.Store(on)
	if on {
		a.metrics.connected.Set(1)
	} else {
		a.metrics.connected.Set(0)
	}
	a.changed.notify()
}

// syncOnce opens the stream from the held cursors and applies messages
// until it ends. It reports whether it applied a message, and why it
// ended: ErrEvicted, errDeadStream, errReconnect, or a transport, HTTP or
// protocol error.
func (a *Agent) syncOnce(ctx context.Context) (applied bool, err error) {
	rev, revs := a.state.cursors()
	q := url.Values{"revision": {strconv.FormatInt(rev, 10)}, "revocations": {strconv.FormatInt(revs, 10)}}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, endpoint(a.serverURL, agentproto.SyncPath, q), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set(agentproto.ProtocolHeader, agentproto.ProtocolVersion)
	req.Header.Set("Accept", agentproto.SyncContentType)
	resp, err := a.httpClient().Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		err := replyError(resp, body)
		if resp.StatusCode == http.StatusForbidden {
			return false, fmt.Errorf("%w: %w", ErrEvicted, err)
		}
		return false, err
	}
	a.setConnected(true)
	a.logger.Info("sync stream connected", "revision", rev, "revocations", revs)

	// The watchdog ends a silent stream; a renewal moves it to a new
	// connection.
	watchdog := time.AfterFunc(a.heartbeatTimeout, func() { cancel(errDeadStream) })
	defer watchdog.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil)
	wg.Go(func() {
		select {
		case <-a.reconnect:
			cancel(errReconnect)
		case <-sctx.Done():
		}
	})

	mr := agentproto.NewMessageReader(resp.Body)
	for {
		msg, err := mr.Next()
		if err != nil {
			if cause := context.Cause(sctx); sctx.Err() != nil && ctx.Err() == nil {
				return applied, cause
			}
			return applied, fmt.Errorf("read sync stream: %w", err)
		}
		watchdog.Reset(a.heartbeatTimeout)
		if err := a.handleMessage(msg); err != nil {
			return applied, err
		}
		applied = true
	}
}

// handleMessage checks and applies one message, and persists the cache if
// it changed.
func (a *Agent) handleMessage(msg agentproto.Message) error {
	if msg.Evicted {
		return ErrEvicted
	}
	u, err := parseMessage(msg, a.state.trustDomain(), a.state.ownBundle())
	if err != nil {
		return fmt.Errorf("sync message at revision %d: %w", msg.Revision, err)
	}
	for _, why := range u.skipped {
		a.logger.Warn("sync: skipped part of a message", "revision", msg.Revision, "reason", why)
	}
	a.lastSync.Store(a.clock().UnixNano())
	if !a.state.apply(u) {
		return nil
	}
	rev, revs := a.state.cursors()
	a.metrics.revision.Set(float64(rev))
	a.logger.Debug("sync: applied", "revision", rev, "revocations", revs, "full", u.full,
		"entries", len(u.entries), "deleted", len(u.deleted), "bundle", u.bundle != nil, "revocation_batch", u.revs != nil)
	if u.plane.trustOnly() && !u.full && len(u.entries) == 0 && len(u.deleted) == 0 && u.bundle == nil &&
		len(u.federated) == 0 && len(u.removed) == 0 && u.revs == nil {
		// Trust deltas come often and the whole table is sent again on
		// every reconnection: they are saved with the next other change.
		return nil
	}
	if err := saveState(a.cfg.DataDir, a.state); err != nil {
		a.logger.Error("persist the cache", "error", err)
	}
	return nil
}
