package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/nodes"
	"github.com/kith-dev/kith/internal/synchub"
)

// agentSync is GET /agent/v1/sync?revision=R&revocations=V: the agent's
// long-lived stream of newline-delimited JSON messages (see package agentproto).
// Errors found before the first message are answered with a problem;
// after it, the stream just ends and the agent reconnects.
func (s *Server) agentSync(w http.ResponseWriter, r *http.Request, c *nodes.Caller) error {
	rev, err := queryInt64(r, "revision")
	if err != nil {
		return err
	}
	revocs, err := queryInt64(r, "revocations")
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	// The stream outlives the server's read timeout, which would otherwise
	// cancel it on HTTP/1.1; each write has a deadline of its own.
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	nw := &ndjsonWriter{w: w, rc: rc, timeout: synchub.DefaultWriteTimeout}
	err = s.agents.hub.Stream(r.Context(), synchub.Subscription{
		Agent: c.Agent.SPIFFEID, IssuedAt: c.Leaf.NotBefore, Revision: rev, Revocations: revocs,
	}, nw)
	if !nw.started {
		return err
	}
	switch {
	case err == nil:
	case errors.Is(err, synchub.ErrClosed):
	case errors.Is(err, synchub.ErrSlowConsumer):
		s.logger.Info("agent stream closed: the agent fell behind", "agent_id", c.Agent.ID)
	default:
		s.logger.Debug("agent stream ended", "agent_id", c.Agent.ID, "error", err)
	}
	return nil
}

// queryInt64 parses an optional non-negative integer query parameter.
func queryInt64(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest(name, "%s must be a non-negative integer", name)
	}
	return n, nil
}

// ndjsonWriter writes sync messages as lines of JSON, each flushed at once
// and bounded by a write deadline, so that an agent that stops reading
// ends its stream instead of holding it forever.
type ndjsonWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	started bool
	buf     bytes.Buffer
}

// WriteMessage implements synchub.MessageWriter.
func (n *ndjsonWriter) WriteMessage(m *agentproto.Message) error {
	n.buf.Reset()
	if err := json.NewEncoder(&n.buf).Encode(m); err != nil {
		return err
	}
	if err := n.rc.SetWriteDeadline(time.Now().Add(n.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if !n.started {
		h := n.w.Header()
		h.Set("Content-Type", agentproto.SyncContentType)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		n.w.WriteHeader(http.StatusOK)
		n.started = true
	}
	if _, err := n.w.Write(n.buf.Bytes()); err != nil {
		return err
	}
	return n.rc.Flush()
}
