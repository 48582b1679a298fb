package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/kith-dev/kith/internal/dataplane"
)

// feedWriteTimeout bounds one write to a feed reader; a proxy that does
// not read for that long is disconnected and resumes later.
const feedWriteTimeout = 10 * time.Second

// dataPlaneServer serves the data-plane feed (see package dataplane) on a
// Unix socket to the proxies and SDK middleware of this node.
type dataPlaneServer struct {
	a         *Agent
	lis       net.Listener
	srv       *http.Server
	heartbeat time.Duration
}

// listenDataPlane binds the data-plane socket: 0660 in a folder made
// 0750, so that only the agent's user and group can follow the feed.
func (a *Agent) listenDataPlane() (*dataPlaneServer, error) {
	path := a.cfg.DataPlaneSocketPath
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("agent: data-plane socket folder: %w", err)
	}
	if err := os.Chmod(dir, 0o750); err != nil { // whatever the umask
		return nil, fmt.Errorf("agent: data-plane socket folder: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("agent: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("agent: remove stale data-plane socket: %w", err)
		}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("agent: data-plane socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		lis.Close()
		return nil, fmt.Errorf("agent: data-plane socket mode: %w", err)
	}
	d := &dataPlaneServer{a: a, lis: lis, heartbeat: dataplane.HeartbeatInterval}
	if a.feedHeartbeat > 0 {
		d.heartbeat = a.feedHeartbeat
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+dataplane.FeedPath, d.handleFeed)
	mux.HandleFunc("POST "+dataplane.TelemetryPath, d.handleTelemetry)
	d.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: nil}
	return d, nil
}

// run serves until ctx is done, then ends every feed and removes the
// socket.
func (d *dataPlaneServer) run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	d.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	wg.Go(func() {
		<-ctx.Done()
		d.srv.Close() // feeds are long-lived: no graceful wait
	})
	err := d.srv.Serve(d.lis)
	os.Remove(d.a.cfg.DataPlaneSocketPath)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("data-plane socket: %w", err)
}

// close releases the socket of a server that never ran.
func (d *dataPlaneServer) close() {
	d.lis.Close()
	os.Remove(d.a.cfg.DataPlaneSocketPath)
}

// handleFeed serves GET /v1/feed?after=V: the full state first (a
// heartbeat instead when V is the current version), then each change and
// a heartbeat whenever the feed was silent for the heartbeat interval.
func (d *dataPlaneServer) handleFeed(w http.ResponseWriter, r *http.Request) {
	after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if r.URL.Query().Get("after") == "" {
		after, err = 0, nil
	}
	if err != nil || after < 0 {
		http.Error(w, "after must be a non-negative integer", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", dataplane.FeedContentType)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	write := func(m *dataplane.FeedMessage) error {
		_ = rc.SetWriteDeadline(time.Now().Add(feedWriteTimeout))
		if err := enc.Encode(m); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := rc.Flush(); err != nil {
		return
	}
	beat := time.NewTicker(d.heartbeat)
	defer beat.Stop()
	var last *feedState
	for {
		wake := d.a.state.changes.wait()
		if cur, ok := d.a.state.feed(); ok {
			var m *dataplane.FeedMessage
			switch {
			case last == nil && cur.version == after:
				m = &dataplane.FeedMessage{Version: cur.version, Heartbeat: true}
			case last == nil:
				m = cur.full()
			default:
				if m = cur.delta(last); m.IsEmpty() {
					m = nil
				}
			}
			last = &cur
			if m != nil {
				if write(m) != nil {
					return
				}
				beat.Reset(d.heartbeat)
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		case <-beat.C:
			v := int64(0)
			if last != nil {
				v = last.version
			}
			if last != nil && write(&dataplane.FeedMessage{Version: v, Heartbeat: true}) != nil {
				return
			}
		}
	}
}
